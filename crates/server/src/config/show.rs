//! `switchboard config show`: the effective configuration as TOML with secrets redacted, each
//! value followed by where it came from (default, file and line, or environment variable).

use std::collections::HashMap;

use super::error::Origin;
use super::load::Loaded;
use super::path::KeyPath;

/// Comments start in this column at most, so that long values do not push them far right.
const COMMENT_COLUMN: usize = 40;

impl Loaded {
    /// The effective configuration, annotated line by line with each value's source.
    pub fn show(&self) -> Result<String, toml::ser::Error> {
        let text = toml::to_string(&self.config)?;
        let file = match &self.file {
            Some(path) => format!("file {}", path.display()),
            None => "no file".to_owned(),
        };
        let overrides = self.env_overrides().count();
        let mut out = format!(
            "# Effective configuration: {file}, {overrides} environment override(s), defaults \
             for the rest.\n# Secrets are shown as <redacted>.\n"
        );
        let width = text
            .lines()
            .filter(|l| l.contains(" = "))
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .min(COMMENT_COLUMN);
        let mut table = KeyPath::root();
        let mut elements: HashMap<String, usize> = HashMap::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                let next = elements.entry(name.to_owned()).or_default();
                table = KeyPath::dotted(name).index(*next);
                *next += 1;
                out.push_str(&annotate(line, width, &self.origin(&table)));
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = KeyPath::dotted(name);
                out.push_str(line);
            } else if let Some((key, _)) = line.split_once(" = ") {
                out.push_str(&annotate(line, width, &self.origin(&table.key(key.trim()))));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        Ok(out)
    }
}

fn annotate(line: &str, width: usize, origin: &Origin) -> String {
    let source = match origin {
        Origin::Default => "default".to_owned(),
        Origin::File { path, line, .. } => format!("{}:{line}", path.display()),
        Origin::Env { var } => format!("env {var}"),
    };
    let pad = width.saturating_sub(line.chars().count());
    format!("{line}{} # {source}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load::from_text;

    #[test]
    fn every_value_has_its_source() {
        let text = "domain = 'example.org'\n\n[[component]]\ndomain = 'rest.example.org'\n\
                    rest_credentials = 'Bearer hunter2'\n";
        let env = vec![("SWITCHBOARD_HTTP_ADDR".to_owned(), "127.0.0.1:1".to_owned())];
        let loaded = from_text(Some(Path::new("sb.toml")), text, env).unwrap();
        let shown = loaded.show().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        let line = |start: &str| {
            shown
                .lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no {start} in {shown}"))
                .to_owned()
        };
        assert!(line("domain = ").ends_with("# sb.toml:1"), "{shown}");
        assert!(line("log = ").ends_with("# default"), "{shown}");
        assert!(line("addr = \"127.0.0.1:1\"").ends_with("# env SWITCHBOARD_HTTP_ADDR"));
        assert!(line("[[component]]").ends_with("# sb.toml:3"), "{shown}");
        assert!(line("domain = \"rest.").ends_with("# sb.toml:4"), "{shown}");
        assert!(line("rest_credentials = \"<redacted>\"").ends_with("# sb.toml:5"));
        assert!(line("type = ").ends_with("# default"), "{shown}");
        // What is printed is TOML that reads back.
        let reread: toml::Table = shown.parse().unwrap();
        assert_eq!(reread["domain"].as_str(), Some("example.org"));
    }
}
