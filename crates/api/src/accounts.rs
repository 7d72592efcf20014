//! Creating accounts, shared by the admin CLI and the admin API so both
//! apply the same name rules and give the same errors.

use tessera_db::{DbError, MetadataStore, User};

use crate::error::{ApiError, ApiResult};
use crate::names::account_name_problem;

/// The conflict answered when an account name is taken (in any case).
fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict { message: format!("The name {name} is already taken by a user or an organization"), url: None }
}

/// Creates a user.
pub async fn create_user(db: &dyn MetadataStore, name: &str, is_admin: bool) -> ApiResult<User> {
    if let Some(problem) = account_name_problem(name) {
        return Err(ApiError::BadRequest(problem));
    }
    match db.create_user(name, is_admin).await {
        Ok(user) => {
            tracing::info!(user.id = user.id, user.admin = is_admin, "user created");
            Ok(user)
        }
        Err(DbError::Conflict { .. }) => Err(name_taken(name)),
        Err(other) => Err(other.into()),
    }
}

/// Creates an organization whose first admin is `owner`.
pub async fn create_org(db: &dyn MetadataStore, name: &str, owner: &User) -> ApiResult<User> {
    if let Some(problem) = account_name_problem(name) {
        return Err(ApiError::BadRequest(problem));
    }
    if owner.is_org() {
        return Err(ApiError::BadRequest(format!("{} is an organization, not a user", owner.name)));
    }
    match db.create_org(name, owner.id).await {
        Ok(org) => {
            tracing::info!(org.id = org.id, user.id = owner.id, "organization created");
            Ok(org)
        }
        Err(DbError::Conflict { .. }) => Err(name_taken(name)),
        Err(other) => Err(other.into()),
    }
}

/// Deletes a user or an organization that no longer owns repos.
pub async fn delete_account(db: &dyn MetadataStore, account: &User) -> ApiResult<()> {
    match db.delete_account(account.id).await {
        Ok(()) => {
            tracing::info!(account.id = account.id, "account deleted");
            Ok(())
        }
        Err(DbError::Conflict { what }) => Err(ApiError::Conflict {
            message: format!("{} still owns {what}: move or delete them first", account.name),
            url: None,
        }),
        Err(other) => Err(other.into()),
    }
}
