//! Creating accounts, shared by the admin CLI, the admin API and the web
//! UI's sign-up so all apply the same name rules and give the same errors;
//! and the single-use invitations of invite-only sign-up.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::Digest as _;
use tessera_db::{DbError, MetadataStore, User};

use crate::error::{ApiError, ApiResult};
use crate::names::account_name_problem;
use crate::passwords::{hash_password, password_problem};
use crate::state::Signup;
use crate::time::now_ms;

/// How long an invitation stays usable by default, in days.
pub const DEFAULT_INVITE_DAYS: i64 = 7;

/// The refusal of a sign-up whose invitation is missing, used, expired or unknown.
const INVITE_REFUSED: &str =
    "This invitation is not valid: it may have been used or have expired. Ask an admin for a new one";

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

fn hash_invite(code: &str) -> Vec<u8> {
    sha2::Sha256::digest(code.as_bytes()).to_vec()
}

/// A new single-use invitation made by `admin`, valid for `days` days; its
/// code (only its hash is stored).
pub async fn create_invite(db: &dyn MetadataStore, admin: &User, days: i64) -> ApiResult<String> {
    if !admin.is_admin {
        return Err(ApiError::Forbidden("Only site admins invite people".into()));
    }
    if !(1..=365).contains(&days) {
        return Err(ApiError::BadRequest("An invitation lasts 1 to 365 days".into()));
    }
    let code = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 18]>());
    let now = now_ms();
    let id = db.create_invite(&hash_invite(&code), admin.id, now, now + days * 24 * 3600 * 1000).await?;
    tracing::info!(invite.id = id, user.id = admin.id, invite.days = days, "invitation created");
    Ok(code)
}

/// A new user made at `/join` under the server's sign-up policy: with a
/// valid name and password, and under `Signup::Invite` an unused
/// invitation, which it uses up.
pub async fn sign_up(
    db: &dyn MetadataStore,
    policy: Signup,
    name: &str,
    password: &str,
    invite: Option<&str>,
) -> ApiResult<User> {
    if policy == Signup::Off {
        return Err(ApiError::Forbidden("Sign-up is closed on this server: ask an admin for an account".into()));
    }
    if let Some(problem) = account_name_problem(name).or_else(|| password_problem(password)) {
        return Err(ApiError::BadRequest(problem));
    }
    let claimed = match (policy, invite) {
        (Signup::Invite, Some(code)) if !code.is_empty() => {
            match db.claim_invite(&hash_invite(code), now_ms()).await? {
                Some(id) => Some(id),
                None => return Err(ApiError::Forbidden(INVITE_REFUSED.into())),
            }
        }
        (Signup::Invite, _) => return Err(ApiError::Forbidden(INVITE_REFUSED.into())),
        _ => None,
    };
    let hash = hash_password(password.to_owned()).await;
    let created = match hash {
        Ok(hash) => create_user(db, name, false).await.map(|user| (user, hash)),
        Err(error) => Err(error),
    };
    match created {
        Ok((user, hash)) => {
            db.set_password_hash(user.id, Some(&hash)).await?;
            if let Some(invite_id) = claimed {
                db.settle_invite(invite_id, Some(user.id)).await?;
            }
            tracing::info!(user.id = user.id, signup.invited = claimed.is_some(), "signed up");
            Ok(user)
        }
        Err(error) => {
            // The invitation stays usable when the account could not be made.
            if let Some(invite_id) = claimed {
                db.settle_invite(invite_id, None).await?;
            }
            Err(error)
        }
    }
}
