//! The resource a request names (RFC 8707 §2): a `resource:<uri>` record, that the client may
//! ask tokens for. Its access tokens carry it as their audience.

use super::failure::Failure;
use super::{Backend, Provider};
use crate::error::{OAuthError, StoreError};
use crate::model::resource::valid_resource_uri;
use crate::model::{Client, Resource};
use crate::store::ClientStore;

impl<B: Backend> Provider<'_, B> {
    /// The resource `uri` names for `client` (`None` when no resource was named), or
    /// `invalid_target`.
    pub async fn resource_for(&self, client: &Client, uri: Option<&str>) -> Result<Option<Resource>, Failure> {
        self.resource_named(client, uri, false).await
    }

    /// [`Provider::resource_for`] of a request's parameters: more than one `resource` is
    /// `invalid_target` too (RFC 8707 §2 allows several; tokens here are for one).
    pub async fn resource_of(
        &self,
        client: &Client,
        params: &crate::http::Params,
    ) -> Result<Option<Resource>, Failure> {
        self.resource_named(client, params.get("resource"), params.several_resources).await
    }

    async fn resource_named(
        &self,
        client: &Client,
        uri: Option<&str>,
        several: bool,
    ) -> Result<Option<Resource>, Failure> {
        if several {
            return Err(OAuthError::invalid_target("one resource per request is supported (RFC 8707 §2)").into());
        }
        let Some(uri) = uri else { return Ok(None) };
        valid_resource_uri(uri).map_err(|_| {
            OAuthError::invalid_target("resource must be an absolute https URI without fragment or query (RFC 8707 §2)")
        })?;
        let resource = match self.clients.resource(uri).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(OAuthError::invalid_target("no resource server is registered with that URI").into()),
            Err(StoreError::Malformed(m)) => {
                return Err(Failure::json(OAuthError::invalid_target("the resource server's record is misconfigured"))
                    .logged(m))
            }
            Err(e) => return Err(e.into()),
        };
        if !client.allows_resource(uri) {
            return Err(OAuthError::invalid_target("this client may not ask tokens for that resource").into());
        }
        Ok(Some(resource))
    }

    /// How long an access token for `resource` lives.
    pub fn access_token_ttl(&self, resource: Option<&Resource>) -> i64 {
        resource.and_then(|r| r.access_token_ttl_seconds).unwrap_or(self.config.access_token_ttl)
    }
}
