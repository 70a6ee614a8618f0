//! `switchboard import xep227` and `export xep227`: accounts with their SCRAM credentials,
//! rosters, pending subscription requests, offline messages, vCards, private XML and PEP nodes,
//! to and from XEP-0227 files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use jid::BareJid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use switchboard_xmpp::pie::{
    self, PieCredentials, PieError, PieEvent, PieItem, PieLimits, PieNode, PieReader,
    PieRosterItem, PieUser, Position, Skipped, SkippedKind,
};
use switchboard_xmpp::sasl::StoredCredentials;
use switchboard_xmpp::subscription::Subscription;
use switchboard_xmpp::{pep, stanza};

use crate::backup::{BackupError, DataDirLock};
use crate::config::PepConfig;
use crate::storage::sqlite::SqliteStore;
use crate::storage::{PortableAccount, RosterItem, Store, StoreError, StoredItem, StoredNode};

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;
/// Pending requests and offline messages read from the store at a time, per account.
const PAGE: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum PortableError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Xml { path: PathBuf, source: PieError },
    #[error("{} has no XEP-0227 files (*.xml)", .0.display())]
    NoFiles(PathBuf),
    #[error("{}: an xi:include must name a file next to it, not '{href}'", path.display())]
    Include { path: PathBuf, href: String },
    #[error("{} exists already; choose a new file", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    DataDir(#[from] BackupError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// How an import treats what is already there.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Replace an existing account and all its data, instead of refusing it.
    pub replace: bool,
    pub limits: PieLimits,
    /// What an account may keep in vCard, private XML and PEP storage, as when it writes there
    /// itself: what is over it is skipped, the rest of the account is imported.
    pub pep: PepConfig,
}

/// What an import did, for the operator.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub files: usize,
    pub accounts: u64,
    pub replaced: u64,
    pub contacts: u64,
    pub requests: u64,
    pub offline: u64,
    pub vcards: u64,
    pub private: u64,
    pub pep_nodes: u64,
    pub pep_items: u64,
    /// Accounts not imported, each with where it is and why.
    pub refused: Vec<String>,
    /// Data not imported, per kind: how many items in how many accounts, and an example.
    pub skipped: BTreeMap<SkippedKind, Skips>,
}

#[derive(Debug, Default)]
pub struct Skips {
    pub items: u64,
    pub accounts: BTreeSet<String>,
    pub example: String,
}

impl ImportSummary {
    /// One line per kind of data that was not imported.
    pub fn warnings(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(kind, skips)| {
                let why = match kind {
                    SkippedKind::VCard => "a second one, or larger than pep.max_vcard_bytes",
                    SkippedKind::PrivateXml => {
                        "a second one of a namespace, a reserved namespace, or larger than \
                         pep.max_private_bytes"
                    }
                    SkippedKind::Pep => "without a node name, or beyond pep.max_nodes",
                    SkippedKind::PepItem => {
                        "without an id or a single payload, larger than pep.max_item_bytes, or \
                         older than what the node keeps"
                    }
                    SkippedKind::PepOption => {
                        "values this server does not take; its default applies"
                    }
                    SkippedKind::Archive => "archives are not imported",
                    _ => "not understood",
                };
                format!(
                    "skipped {} {} of {} account(s) ({why}), e.g. {}",
                    skips.items,
                    kind.label(),
                    skips.accounts.len(),
                    skips.example
                )
            })
            .collect()
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} account(s) ({} replaced) from {} file(s): {} roster item(s), {} pending \
             subscription request(s), {} offline message(s), {} vCard(s), {} private XML \
             document(s), {} PEP node(s) with {} item(s); {} account(s) refused",
            self.accounts,
            self.replaced,
            self.files,
            self.contacts,
            self.requests,
            self.offline,
            self.vcards,
            self.private,
            self.pep_nodes,
            self.pep_items,
            self.refused.len()
        )
    }
}

/// Imports `source` (a XEP-0227 file, or a directory of them as Prosody writes one per
/// account) into the database of `data_dir`. Refused while a server runs on it: a running
/// server caches rosters and credentials that the import would change under it.
pub async fn import(
    data_dir: &Path,
    domain: &str,
    iterations: u32,
    source: &Path,
    options: ImportOptions,
) -> Result<ImportSummary, PortableError> {
    let _lock = DataDirLock::acquire(data_dir)?;
    let store = SqliteStore::open(data_dir).await?;
    let mut importer = Importer {
        store: &store,
        domain: domain.to_owned(),
        iterations,
        options,
        summary: ImportSummary::default(),
        done: BTreeSet::new(),
    };
    for file in files(source)? {
        importer.file(&file).await?;
    }
    Ok(importer.summary)
}

/// `source` itself, or the `*.xml` files of a directory in name order (ejabberd's main file
/// sorts before the per-host files it includes).
fn files(source: &Path) -> Result<Vec<PathBuf>, PortableError> {
    let io = |action| {
        move |e| PortableError::Io {
            action,
            path: source.to_owned(),
            source: e,
        }
    };
    let meta = std::fs::metadata(source).map_err(io("read"))?;
    if !meta.is_dir() {
        return Ok(vec![source.to_owned()]);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(source).map_err(io("list"))? {
        let path = entry.map_err(io("list"))?.path();
        if path.extension().is_some_and(|x| x == "xml") && path.is_file() {
            found.push(path);
        }
    }
    if found.is_empty() {
        return Err(PortableError::NoFiles(source.to_owned()));
    }
    found.sort();
    Ok(found)
}

struct Importer<'a> {
    store: &'a dyn Store,
    domain: String,
    iterations: u32,
    options: ImportOptions,
    summary: ImportSummary,
    /// Files read already (an included file is not read again on its own).
    done: BTreeSet<PathBuf>,
}

impl Importer<'_> {
    /// Reads one file, then the files it includes.
    async fn file(&mut self, path: &Path) -> Result<(), PortableError> {
        let canonical = std::fs::canonicalize(path).map_err(|source| PortableError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        if !self.done.insert(canonical) {
            return Ok(());
        }
        self.summary.files += 1;
        let mut includes = Vec::new();
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|source| PortableError::Io {
                action: "open",
                path: path.to_owned(),
                source,
            })?;
        let mut reader = PieReader::new(self.options.limits);
        let mut buf = vec![0; CHUNK];
        let mut host = None;
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|source| PortableError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                })?;
            let fed = if n == 0 {
                reader.finish()
            } else {
                reader.feed(&buf[..n])
            };
            // The accounts complete before an error are imported, as they would have been
            // had the error come in a later chunk.
            while let Some(event) = reader.next_event() {
                match event {
                    PieEvent::Host { jid, .. } => host = Some(jid),
                    PieEvent::User { element, at } => {
                        let host = host.as_deref().unwrap_or_default();
                        self.user(path, host, &element, at).await?;
                    }
                    PieEvent::Include { href, .. } => includes.push(href),
                    PieEvent::Unknown { name, at } => {
                        self.skip(SkippedKind::Other, "", format!("{name} at {at}"));
                    }
                }
            }
            fed.map_err(|source| PortableError::Xml {
                path: path.to_owned(),
                source,
            })?;
            if n == 0 {
                break;
            }
        }
        for href in includes {
            let plain_name = Path::new(&href)
                .file_name()
                .is_some_and(|name| name == href.as_str());
            if !plain_name {
                return Err(PortableError::Include {
                    path: path.to_owned(),
                    href,
                });
            }
            let included = path.with_file_name(&href);
            Box::pin(self.file(&included)).await?;
        }
        Ok(())
    }

    fn skip(&mut self, kind: SkippedKind, account: &str, reason: String) {
        let skips = self.summary.skipped.entry(kind).or_default();
        skips.items += 1;
        if !account.is_empty() {
            skips.accounts.insert(account.to_owned());
        }
        if skips.example.is_empty() {
            skips.example = reason;
        }
    }

    fn refuse(&mut self, path: &Path, at: Position, why: String) {
        self.summary
            .refused
            .push(format!("{} {at}: {why}", path.display()));
    }

    async fn user(
        &mut self,
        path: &Path,
        host: &str,
        element: &minidom::Element,
        at: Position,
    ) -> Result<(), PortableError> {
        if host != self.domain {
            let name = element.attr("name").unwrap_or_default();
            let why = format!(
                "{name}@{host} is not on this server's domain {}; set `domain` to import it",
                self.domain
            );
            self.refuse(path, at, why);
            return Ok(());
        }
        let user = match PieUser::from_element(element) {
            Ok(user) => user,
            Err(e) => {
                self.refuse(path, at, e.to_string());
                return Ok(());
            }
        };
        let Ok(node) = jid::NodePart::new(&user.name) else {
            self.refuse(path, at, format!("'{}' is not a valid username", user.name));
            return Ok(());
        };
        let username = node.to_string();
        let credentials = match &user.credentials {
            PieCredentials::Scram(creds) => creds.clone(),
            PieCredentials::Plain(password) => {
                let (password, iterations) = (password.clone(), self.iterations);
                let derived = tokio::task::spawn_blocking(move || {
                    StoredCredentials::derive(&password, iterations)
                })
                .await
                .map_err(|e| StoreError::Corrupt(format!("deriving keys: {e}")))?;
                match derived {
                    Ok(creds) => creds,
                    Err(e) => {
                        self.refuse(path, at, format!("account '{username}': password: {e}"));
                        return Ok(());
                    }
                }
            }
        };
        let account_jid = BareJid::new(&format!("{username}@{}", self.domain))
            .map_err(|e| StoreError::Corrupt(format!("account JID: {e}")))?;
        let mut skipped = user.skipped.clone();
        let personal = personal_data(&user, &self.options.pep, &mut skipped);
        let account = PortableAccount {
            user: username.clone(),
            credentials,
            roster: user.roster.iter().map(roster_item).collect(),
            requests: user
                .pending_in
                .iter()
                .map(|from| {
                    let request = pie::subscription_request(from, &account_jid);
                    (from.to_string(), stanza::to_xml(&request))
                })
                .collect(),
            offline: user
                .offline
                .iter()
                .map(|message| {
                    let (message, stamp) = pie::split_delay(message, host);
                    let stored_at = stamp
                        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
                    (stanza::to_xml_portable(&message), stored_at)
                })
                .collect(),
            vcard: personal.vcard,
            private: personal.private,
            pep: personal.pep,
        };
        let existed = self.store.credentials(&username).await?.is_some();
        match self
            .store
            .import_account(&account, self.options.replace)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                let why = format!(
                    "account {account_jid} exists already; run again with --replace to \
                     overwrite it and all its data"
                );
                self.refuse(path, at, why);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        let summary = &mut self.summary;
        summary.accounts += 1;
        summary.replaced += u64::from(existed);
        summary.contacts += account.roster.len() as u64;
        summary.requests += account.requests.len() as u64;
        summary.offline += account.offline.len() as u64;
        summary.vcards += u64::from(account.vcard.is_some());
        summary.private += account.private.len() as u64;
        summary.pep_nodes += account.pep.len() as u64;
        summary.pep_items += account
            .pep
            .iter()
            .map(|(_, items)| items.len() as u64)
            .sum::<u64>();
        for skipped in skipped {
            self.skip(skipped.kind, &username, skipped.reason);
        }
        Ok(())
    }
}

/// An account's vCard, private XML and PEP nodes as the store keeps them.
struct Personal {
    vcard: Option<String>,
    private: Vec<(String, String)>,
    pep: Vec<(StoredNode, Vec<StoredItem>)>,
}

/// Takes what the services would take from the account itself (the same serialisation and
/// limits) and adds the rest to `skipped`.
fn personal_data(user: &PieUser, limits: &PepConfig, skipped: &mut Vec<Skipped>) -> Personal {
    let mut skip = |kind, reason| skipped.push(Skipped { kind, reason });
    let vcard = user.vcard.as_ref().and_then(|vcard| {
        let xml = stanza::to_xml_portable(vcard);
        if xml.len() > limits.max_vcard_bytes {
            skip(
                SkippedKind::VCard,
                format!("a vCard of {} bytes of {}", xml.len(), user.name),
            );
            return None;
        }
        Some(xml)
    });
    let mut private = Vec::new();
    for document in &user.private {
        let namespace = document.ns();
        let xml = stanza::to_xml_portable(document);
        if crate::services::private::reserved(&namespace) {
            skip(
                SkippedKind::PrivateXml,
                format!("reserved namespace {namespace}"),
            );
        } else if xml.len() > limits.max_private_bytes {
            let reason = format!("{namespace}: {} bytes", xml.len());
            skip(SkippedKind::PrivateXml, reason);
        } else {
            private.push((namespace, xml));
        }
    }
    let mut pep = Vec::new();
    for node in &user.pep {
        if node.node.len() > pep::MAX_NODE_NAME {
            skip(
                SkippedKind::Pep,
                format!("a node name of {} bytes", node.node.len()),
            );
            continue;
        }
        if pep.len() >= limits.max_nodes {
            skip(SkippedKind::Pep, format!("node {}", node.node));
            continue;
        }
        let (config, refused) = node.config(limits.max_items);
        for option in refused {
            let reason = format!("{} = '{}' of node {}", option.var, option.value, node.node);
            skip(SkippedKind::PepOption, reason);
        }
        let mut items: Vec<StoredItem> = Vec::new();
        for item in &node.items {
            let payload = stanza::to_xml_portable(&item.payload);
            if payload.len() > limits.max_item_bytes || item.id.len() > pep::MAX_ITEM_ID {
                let reason = format!("item {} of node {}: too large", item.id, node.node);
                skip(SkippedKind::PepItem, reason);
                continue;
            }
            // A later item of the same id replaces the earlier one, as a publish would.
            items.retain(|i| i.id != item.id);
            items.push(StoredItem {
                id: item.id.clone(),
                payload,
            });
        }
        let keep = config.kept().min(limits.max_items) as usize;
        if items.len() > keep {
            let dropped = items.len() - keep;
            let reason = format!(
                "{dropped} older item(s) of node {}, which keeps {keep}",
                node.node
            );
            skip(SkippedKind::PepItem, reason);
            items.drain(..dropped);
        }
        let stored = StoredNode {
            node: node.node.clone(),
            config,
        };
        pep.push((stored, items));
    }
    Personal {
        vcard,
        private,
        pep,
    }
}

fn roster_item(item: &PieRosterItem) -> RosterItem {
    RosterItem {
        jid: item.jid.to_string(),
        name: item.name.clone(),
        subscription: item.subscription.as_str().to_owned(),
        ask: item.ask.then(|| "subscribe".to_owned()),
        groups: item.groups.clone(),
    }
}

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub accounts: u64,
    pub contacts: u64,
    pub requests: u64,
    pub offline: u64,
    pub vcards: u64,
    pub private: u64,
    pub pep_nodes: u64,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exported {} account(s) with their SCRAM credentials, {} roster item(s), {} pending \
             subscription request(s), {} offline message(s), {} vCard(s), {} private XML \
             document(s), {} PEP node(s)",
            self.accounts,
            self.contacts,
            self.requests,
            self.offline,
            self.vcards,
            self.private,
            self.pep_nodes
        )
    }
}

/// Writes every account of `store` to `dest` (which must not exist), through a temporary name
/// so that `dest` is either absent or complete. It reads through the store and may run while
/// the server serves; each account is read as it is at that moment.
pub async fn export(
    store: &dyn Store,
    domain: &str,
    dest: &Path,
) -> Result<ExportSummary, PortableError> {
    if dest.exists() {
        return Err(PortableError::Exists(dest.to_owned()));
    }
    let partial = dest.with_extension("partial");
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| PortableError::Io {
            action,
            path,
            source,
        }
    };
    let file = tokio::fs::File::create(&partial)
        .await
        .map_err(io("create", &partial))?;
    let mut out = tokio::io::BufWriter::new(file);
    let written = async {
        out.write_all(pie::document_start(domain).as_bytes())
            .await
            .map_err(io("write", &partial))?;
        let mut summary = ExportSummary::default();
        for user in store.list_users().await? {
            let Some(pie_user) = exported_user(store, domain, &user).await? else {
                continue;
            };
            summary.accounts += 1;
            summary.contacts += pie_user.roster.len() as u64;
            summary.requests += pie_user.pending_in.len() as u64;
            summary.offline += pie_user.offline.len() as u64;
            summary.vcards += u64::from(pie_user.vcard.is_some());
            summary.private += pie_user.private.len() as u64;
            summary.pep_nodes += pie_user.pep.len() as u64;
            out.write_all(pie::user_line(&pie_user).as_bytes())
                .await
                .map_err(io("write", &partial))?;
        }
        out.write_all(pie::DOCUMENT_END.as_bytes())
            .await
            .map_err(io("write", &partial))?;
        out.flush().await.map_err(io("write", &partial))?;
        out.get_ref()
            .sync_all()
            .await
            .map_err(io("write", &partial))?;
        Ok::<_, PortableError>(summary)
    }
    .await;
    match written {
        Ok(summary) => {
            tokio::fs::rename(&partial, dest)
                .await
                .map_err(io("write", dest))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

/// One account as XEP-0227 carries it; `None` when it was deleted meanwhile.
async fn exported_user(
    store: &dyn Store,
    domain: &str,
    user: &str,
) -> Result<Option<PieUser>, PortableError> {
    let Some(credentials) = store.credentials(user).await? else {
        return Ok(None);
    };
    let mut roster = Vec::new();
    for item in store.roster(user).await? {
        let Ok(jid) = BareJid::new(&item.jid) else {
            tracing::warn!(%user, jid = item.jid, "roster item with an invalid JID not exported");
            continue;
        };
        roster.push(PieRosterItem {
            jid,
            name: item.name,
            subscription: Subscription::parse(&item.subscription),
            ask: item.ask.is_some(),
            groups: item.groups,
        });
    }
    let mut pending_in = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.requests(user, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.jid.clone());
        pending_in.extend(page.iter().filter_map(|r| BareJid::new(&r.jid).ok()));
    }
    let mut offline = Vec::new();
    let mut after = 0;
    loop {
        let page = store.offline_batch(user, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for message in page {
            let Ok(mut el) = message.stanza.parse::<minidom::Element>() else {
                tracing::warn!(%user, id = message.id, "unreadable offline message not exported");
                continue;
            };
            let stamp = message
                .stored_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            el.append_child(stanza::delay(domain, &stamp));
            offline.push(el);
        }
    }
    let parsed = |what: &str, xml: &str| match xml.parse::<minidom::Element>() {
        Ok(el) => Some(el),
        Err(e) => {
            tracing::warn!(%user, what, error = %e, "unreadable stored XML not exported");
            None
        }
    };
    let vcard = store
        .vcard(user)
        .await?
        .and_then(|xml| parsed("vCard", &xml));
    let private = store
        .private_documents(user)
        .await?
        .into_iter()
        .filter_map(|(namespace, xml)| parsed(&namespace, &xml))
        .collect();
    let mut pep = Vec::new();
    for node in store.pep_nodes(user).await? {
        let items = store
            .pep_items(user, &node.node, None)
            .await?
            .into_iter()
            .filter_map(|item| {
                let payload = parsed(&item.id, &item.payload)?;
                Some(PieItem {
                    id: item.id,
                    payload,
                })
            })
            .collect();
        pep.push(PieNode::with_config(node.node, &node.config, items));
    }
    Ok(Some(PieUser {
        name: user.to_owned(),
        credentials: PieCredentials::Scram(credentials),
        roster,
        pending_in,
        offline,
        vcard,
        private,
        pep,
        skipped: Vec::new(),
    }))
}
