//! What the archive's filter and services share: the writer every archived message goes
//! through, and the preferences read recently.

use super::policy::PrefsCache;
use super::writer::ArchiveWriter;

/// One per server; the filter archives through it, queries and preferences read through it.
#[derive(Default)]
pub struct Archive {
    pub writer: ArchiveWriter,
    pub prefs: PrefsCache,
}
