//! Key paths into a configuration (`http.addr`, `component[0].domain`): how problems and sources
//! name a value, and the generic form (`component[].domain`) that the schema of known keys uses.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<Step>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// A dotted path of keys (`limits.max_depth`), as `ENV_KEYS` writes them.
    pub fn dotted(path: &str) -> KeyPath {
        KeyPath(path.split('.').map(|k| Step::Key(k.to_owned())).collect())
    }

    pub fn key(&self, key: &str) -> KeyPath {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_owned()));
        KeyPath(steps)
    }

    pub fn index(&self, index: usize) -> KeyPath {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        KeyPath(steps)
    }

    pub fn parent(&self) -> KeyPath {
        KeyPath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The last key name, if the path ends in one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The path with indices erased, e.g. `component[].domain`: one name for every element.
    pub fn generic(&self) -> String {
        let mut out = String::new();
        for step in &self.0 {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(_) => out.push_str("[]"),
            }
        }
        out
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = KeyPath::dotted("webhook.user").index(2).key("jid");
        assert_eq!(p.to_string(), "webhook.user[2].jid");
        assert_eq!(p.generic(), "webhook.user[].jid");
        assert_eq!(p.parent().to_string(), "webhook.user[2]");
        assert_eq!(p.last_key(), Some("jid"));
        assert!(p.starts_with(&KeyPath::dotted("webhook")));
        assert_eq!(KeyPath::root().to_string(), "");
    }
}
