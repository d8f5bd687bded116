//! Single-object operations outside the plan/apply loop: `import` (take an
//! existing object under management), `state rm` (forget one) and `rotate`
//! (a new OAuth client secret, delivered to the secrets file only).

use gcrecon_core::provider::{GenesysId, Provider};
use gcrecon_core::state::{read_differing, ResourceState};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, Kind};

use crate::error::EngineError;
use crate::events::{Event, Observer};
use crate::refresh::check_org;
use crate::secrets::SecretsFile;
use crate::store::StateStore;

/// Read the object `id` and record it in the state at `address`.
pub async fn import<P: Provider>(
    provider: &P,
    store: &mut StateStore,
    address: &Address,
    id: &GenesysId,
) -> Result<ResourceState, EngineError> {
    let kind = address.kind().ok_or_else(|| EngineError::Usage {
        message: format!("{address} is a data source; only resources can be imported"),
        hint: None,
    })?;
    if let Some(existing) = store.state().resource(address) {
        return Err(EngineError::Usage {
            message: format!("{address} is already managed (id {})", existing.id),
            hint: Some(format!(
                "to manage another object there, first run `gcrecon state rm {address}`"
            )),
        });
    }
    if let Some(other) = store
        .state()
        .resources
        .iter()
        .find(|r| r.kind == kind && &r.id == id)
    {
        return Err(EngineError::Usage {
            message: format!("{kind} {id} is already managed as {}", other.address),
            hint: None,
        });
    }
    let org = provider
        .org()
        .await
        .map_err(|e| EngineError::provider("cannot read the organization", e))?;
    check_org(store.state(), &org, Some(store.address()))?;
    let object = provider
        .read(kind, id)
        .await
        .map_err(|e| EngineError::provider(format!("cannot read {kind} {id}"), e))?
        .ok_or_else(|| EngineError::Usage {
            message: format!(
                "there is no {kind} with id {id} in organization {}",
                org.name
            ),
            hint: Some(
                "check the id (and, for division-scoped objects, that the caller may see it)"
                    .into(),
            ),
        })?;
    if object.builtin {
        return Err(EngineError::Usage {
            message: format!(
                "{kind} {id} (`{}`) is built in; gcrecon does not manage built-in objects",
                object.name
            ),
            hint: Some(format!(
                "refer to it with a data source instead (data.{kind}.NAME)"
            )),
        });
    }
    let record = ResourceState {
        address: address.clone(),
        kind,
        id: object.id.clone(),
        name: object.name.clone(),
        applied: Default::default(),
        read: read_differing(&Attrs::new(), object.attrs.clone()),
        version: object.version,
        dependencies: Vec::new(),
        prevent_destroy: false,
        sensitive_keys: Vec::new(),
    };
    let stored = record.clone();
    store.write(|s| {
        s.org_id = Some(org.id.clone());
        s.clear_pending(address);
        s.upsert_resource(stored);
    })?;
    Ok(record)
}

/// Forget `address` (the object itself is left alone).
pub fn state_rm(store: &mut StateStore, address: &Address) -> Result<ResourceState, EngineError> {
    let record = store
        .state()
        .resource(address)
        .cloned()
        .ok_or_else(|| EngineError::NotInState(address.clone()))?;
    store.write(|s| {
        s.remove_resource(address);
        s.clear_pending(address);
    })?;
    Ok(record)
}

/// Regenerate the secret of the OAuth client at `address` and store it in
/// the secrets file.
pub async fn rotate<P: Provider>(
    provider: &P,
    store: &StateStore,
    address: &Address,
    secrets: &SecretsFile,
    observer: &dyn Observer,
) -> Result<GenesysId, EngineError> {
    let record = store
        .state()
        .resource(address)
        .ok_or_else(|| EngineError::NotInState(address.clone()))?;
    if record.kind != Kind::OauthClient {
        return Err(EngineError::Usage {
            message: format!(
                "{address} is a {}; only OAuth clients have a secret",
                record.kind
            ),
            hint: None,
        });
    }
    let org = provider
        .org()
        .await
        .map_err(|e| EngineError::provider("cannot read the organization", e))?;
    check_org(store.state(), &org, Some(store.address()))?;
    // The old secret stops working with the call: be sure the new one can
    // be stored first.
    secrets.check_can_store()?;
    let secret = provider.rotate_secret(&record.id).await.map_err(|e| {
        EngineError::provider(
            format!("cannot rotate the secret of {address} ({})", record.id),
            e,
        )
    })?;
    secrets.store(address, record.id.as_str(), &secret)?;
    observer.event(&Event::SecretWritten {
        address: address.clone(),
        path: secrets.path().to_owned(),
    });
    Ok(record.id.clone())
}

#[cfg(test)]
mod tests {

    use crate::events::Silent;

    use crate::planner::PlanOptions;

    use crate::secrets::SecretsFile;

    use crate::testkit::*;

    use gcrecon_core::provider::CallerKind;

    use gcrecon_core::Address;

    #[tokio::test]
    async fn import_and_state_rm() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let role = h
            .state()
            .resource(&"role.reader".parse().unwrap())
            .unwrap()
            .clone();
        let mut store = h.store();
        crate::ops::state_rm(&mut store, &role.address).unwrap();
        assert!(
            h.plan_with(&m, PlanOptions::default()).await.is_err(),
            "now a name clash"
        );
        let mut store = h.store();
        let address: Address = "role.reader".parse().unwrap();
        crate::ops::import(h.provider.as_ref(), &mut store, &address, &role.id)
            .await
            .unwrap();
        assert!(
            crate::ops::import(h.provider.as_ref(), &mut store, &address, &role.id)
                .await
                .is_err()
        );
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn rotate_writes_only_the_secrets_file() {
        let h = Harness::new(CallerKind::Client);
        let m = load_manifest(CLIENT);
        h.converge(&m).await;
        let store = h.store();
        let address: Address = "oauth_client.api".parse().unwrap();
        let secrets = SecretsFile::new(&h.secrets_path);
        crate::ops::rotate(h.provider.as_ref(), &store, &address, &secrets, &Silent)
            .await
            .unwrap();
        let rotated = h.provider.with(|o| o.secrets.last().cloned().unwrap());
        assert_eq!(secrets.secret(&address).unwrap().unwrap().expose(), rotated);
        assert!(!std::fs::read_to_string(&h.state_path)
            .unwrap()
            .contains(&rotated));
    }
}
