//! The organisation's accounts, for a digest organisation-wide with an
//! OrganizationId alone (no account list).

use super::service_failure;
use crate::ports::{AccountDirectory, BoxFuture, ServiceFailure};
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
use aws_sdk_organizations::Client;

pub struct OrganizationAccounts {
    client: Client,
}

impl OrganizationAccounts {
    pub fn new(client: Client) -> OrganizationAccounts {
        OrganizationAccounts { client }
    }
}

/// Whether an account is one to read: `State` ACTIVE (AWS Organizations
/// API Reference, `Account`: `State` replaces `Status`, retired on
/// September 9, 2026); an answer with only the older `Status` is read by
/// it. `Err`: why it is left out.
pub fn readable(account: &Account) -> Result<(), String> {
    match (&account.state, &account.status) {
        (Some(AccountState::Active), _) => Ok(()),
        (Some(state), _) => Err(format!("state {}", state.as_str())),
        (None, Some(AccountStatus::Active)) => Ok(()),
        (None, Some(status)) => Err(format!("status {}", status.as_str())),
        (None, None) => Err("no state given".into()),
    }
}

impl AccountDirectory for OrganizationAccounts {
    /// `ListAccounts`, every page. It answers only in the organisation's
    /// management account or an Organizations delegated administrator
    /// (AWS Organizations API Reference, ListAccounts).
    fn active_accounts(&self) -> BoxFuture<'_, Result<crate::ports::AccountList, ServiceFailure>> {
        Box::pin(async move {
            let mut pages = self.client.list_accounts().into_paginator().send();
            let (mut active, mut left_out) = (Vec::new(), Vec::new());
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_failure("Organizations", &e))?;
                for account in page.accounts.unwrap_or_default() {
                    let Some(id) = account.id.clone() else {
                        continue;
                    };
                    match readable(&account) {
                        Ok(()) => active.push(id),
                        Err(why) => left_out.push((id, why)),
                    }
                }
            }
            active.sort();
            active.dedup();
            Ok((active, left_out))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_read_when_active_by_its_state_or_older_status() {
        let with = |state: Option<&str>, status: Option<&str>| {
            readable(
                &Account::builder()
                    .id("555555555555")
                    .set_state(state.map(AccountState::from))
                    .set_status(status.map(AccountStatus::from))
                    .build(),
            )
        };
        assert_eq!(with(Some("ACTIVE"), None), Ok(()));
        assert_eq!(with(None, Some("ACTIVE")), Ok(()));
        assert_eq!(
            with(Some("SUSPENDED"), Some("ACTIVE")),
            Err("state SUSPENDED".into())
        );
        assert_eq!(
            with(Some("PENDING_CLOSURE"), None),
            Err("state PENDING_CLOSURE".into())
        );
        assert_eq!(
            with(Some("SOMETHING_NEW"), None),
            Err("state SOMETHING_NEW".into())
        );
        assert_eq!(with(None, None), Err("no state given".into()));
    }
}
