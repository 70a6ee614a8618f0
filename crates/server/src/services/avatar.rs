//! XEP-0398 on the server: an avatar published with XEP-0084 becomes the vCard's PHOTO, and
//! presence broadcasts carry the XEP-0153 hash of the current avatar for older clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use minidom::Element;
use switchboard_xmpp::avatar::{self, Photo};
use switchboard_xmpp::ns;
use switchboard_xmpp::pep::Item;

use crate::ctx::Ctx;
use crate::storage::StoreError;

/// After `item` was published to `owner`'s `node`: a metadata item naming an image of the data
/// node makes that image the vCard's PHOTO (unless it already is).
pub async fn published(ctx: &Ctx, owner: &str, node: &str, item: &Item) {
    if node != ns::AVATAR_METADATA {
        return;
    }
    let Some((id, mime)) = avatar::metadata_info(&item.payload) else {
        return;
    };
    if let Err(e) = to_vcard(ctx, owner, &id, mime).await {
        tracing::error!(owner, error = %e, "avatar not converted to the vCard");
    }
}

async fn to_vcard(ctx: &Ctx, owner: &str, id: &str, mime: String) -> Result<(), StoreError> {
    let store = ctx.store();
    let items = store
        .pep_items_by_id(owner, ns::AVATAR_DATA, &[id.to_owned()])
        .await?;
    let Some(data) = items
        .first()
        .and_then(|i| i.payload.parse::<Element>().ok())
        .and_then(|payload| avatar::data_of(&payload))
    else {
        return Ok(());
    };
    let photo = Photo { mime, data };
    let vcard = match store.vcard(owner).await? {
        Some(xml) => xml
            .parse::<Element>()
            .unwrap_or_else(|_| Element::bare("vCard", ns::VCARD)),
        None => Element::bare("vCard", ns::VCARD),
    };
    if Photo::of_vcard(&vcard).is_some_and(|current| current.id() == photo.id()) {
        return Ok(());
    }
    let updated = avatar::with_photo(&vcard, Some(&photo));
    store
        .set_vcard(owner, &switchboard_xmpp::stanza::to_xml_portable(&updated))
        .await
}

/// The id (SHA-1) of `owner`'s current XEP-0084 avatar, if any.
pub async fn current_id(ctx: &Ctx, owner: &str) -> Result<Option<String>, StoreError> {
    let items = ctx
        .store()
        .pep_items(owner, ns::AVATAR_METADATA, Some(1))
        .await?;
    Ok(items
        .first()
        .and_then(|item| item.payload.parse::<Element>().ok())
        .and_then(|payload| avatar::metadata_info(&payload))
        .map(|(id, _)| id))
}

/// How long a cached avatar id is trusted: changes through this server are seen at once; this
/// bounds how late one made outside it (an account deleted and created again) is seen.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// Accounts' current avatar ids, kept so that stamping presence reads no storage per stanza.
pub struct AvatarIds {
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
    capacity: usize,
}

impl AvatarIds {
    pub fn new(capacity: usize) -> AvatarIds {
        AvatarIds {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<String>, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn get(&self, ctx: &Ctx, owner: &str) -> Option<String> {
        if let Some((id, loaded)) = self.entries().get(owner)
            && loaded.elapsed() < FRESH_FOR
        {
            return id.clone();
        }
        let id = match current_id(ctx, owner).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(owner, error = %e, "avatar unavailable for presence");
                return None;
            }
        };
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(owner) {
            entries.retain(|_, (_, loaded)| loaded.elapsed() < FRESH_FOR);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(owner.to_owned(), (id.clone(), Instant::now()));
        id
    }

    /// Forgets `owner`'s avatar after its metadata node changed.
    pub fn forget(&self, owner: &str) {
        self.entries().remove(owner);
    }

    /// Adds the avatar's hash to a broadcast presence that says nothing of avatars, so that
    /// clients reading only XEP-0153 see the avatar a XEP-0084 client set.
    pub async fn stamp_presence(&self, ctx: &Ctx, owner: &str, presence: &mut Element) {
        if avatar::presence_photo(presence).is_some() {
            return;
        }
        if let Some(id) = self.get(ctx, owner).await {
            presence.append_child(avatar::update_element(&id));
        }
    }
}
