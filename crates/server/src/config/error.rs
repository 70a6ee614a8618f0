//! Configuration errors for people: where (file, line and column, or environment variable), which
//! key, the bad value and what was expected — every problem of a configuration at once.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS error is part of the message and deliberately not a `source()`, so that error
    /// chains print it once.
    #[error("cannot read configuration file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl ConfigError {
    /// The individual problems, when the configuration was read but is not valid.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => &d.0,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// Where a value (or a problem) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    Env {
        var: String,
    },
    /// Neither the file nor the environment set it.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Default => f.write_str("built-in default"),
        }
    }
}

/// The source line a problem is on, with the offending columns (1-based) to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    pub line: usize,
    pub text: String,
    pub column: usize,
    pub width: usize,
}

/// One problem of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: Origin,
    /// Table path and key, e.g. `http.addr` or `component[0].domain`.
    pub key: Option<String>,
    /// The offending value as written (TOML), or a redaction mark for secrets.
    pub value: Option<String>,
    /// What is wrong, usually "expected …".
    pub message: String,
    pub hint: Option<String>,
    pub excerpt: Option<Excerpt>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        match (&self.key, &self.value) {
            (Some(key), Some(value)) => write!(f, "{key} = {value}: ")?,
            (Some(key), None) => write!(f, "{key}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if let Some(e) = &self.excerpt {
            let number = e.line.to_string();
            let pad = " ".repeat(number.len());
            let text = e.text.trim_end();
            let lead = " ".repeat(e.column.saturating_sub(1));
            let marks = "^".repeat(e.width.max(1));
            write!(f, "\n {pad} |\n {number} | {text}\n {pad} | {lead}{marks}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found, in the order of the sources (file by position, then environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => f.write_str("invalid configuration:")?,
            n => write!(f, "invalid configuration, {n} problems:")?,
        }
        for (i, d) in self.0.iter().enumerate() {
            // A blank line between problems, whose excerpts span several lines.
            let gap = if i > 0 { "\n" } else { "" };
            write!(f, "\n{gap}{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_key_value_excerpt_and_hint() {
        let d = Diagnostic {
            origin: Origin::File {
                path: "switchboard.toml".into(),
                line: 8,
                column: 8,
            },
            key: Some("http.addr".into()),
            value: Some("\"nonsense\"".into()),
            message: "expected a socket address like 127.0.0.1:5280".into(),
            hint: Some("a hint".into()),
            excerpt: Some(Excerpt {
                line: 8,
                text: "addr = \"nonsense\"\n".into(),
                column: 8,
                width: 10,
            }),
        };
        assert_eq!(
            d.to_string(),
            "switchboard.toml:8:8: http.addr = \"nonsense\": expected a socket address like \
             127.0.0.1:5280\n   |\n 8 | addr = \"nonsense\"\n   |        ^^^^^^^^^^\n  = hint: a hint"
        );
        let env = Diagnostic {
            origin: Origin::Env {
                var: "SWITCHBOARD_DOMIAN".into(),
            },
            key: None,
            value: None,
            message: "unknown variable".into(),
            hint: None,
            excerpt: None,
        };
        assert_eq!(
            env.to_string(),
            "environment variable SWITCHBOARD_DOMIAN: unknown variable"
        );
        let all = Diagnostics(vec![d, env]);
        assert!(
            all.to_string()
                .starts_with("invalid configuration, 2 problems:\n")
        );
    }
}
