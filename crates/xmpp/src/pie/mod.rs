//! XEP-0227 (portable import/export of server data): the incremental reader of the files
//! Prosody and ejabberd write, the `<user>` mapping, and the document this server writes.

mod reader;
mod user;

pub use reader::{PieError, PieEvent, PieLimits, PieReader, Position};
pub use user::{PieCredentials, PieRosterItem, PieUser, Skipped, SkippedKind, UserError};

/// What an export file starts with, up to the first account of `host`.
pub fn document_start(host: &str) -> String {
    let host = host
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;");
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='{}'>\n<host jid='{host}'>\n",
        crate::ns::PIE
    )
}

/// One account of an export file, on a line of its own.
pub fn user_line(user: &PieUser) -> String {
    let mut line = crate::stanza::to_xml_portable(&user.to_element());
    line.push('\n');
    line
}

/// What an export file ends with.
pub const DOCUMENT_END: &str = "</host>\n</server-data>\n";
