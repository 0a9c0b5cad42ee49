//! The guard in front of the admin pages. (The headers every response carries are
//! `service_ping_web::with_security_headers`; the page policy is set while rendering, in `app.rs`.)

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::auth::session::{VerifiedAccount, account_in};
use crate::auth::sign_in_path_returning_to;
use crate::state::AppState;
use crate::state::page_reads::PageReads;

/// Sends a signed-out visitor of any `/admin` page to sign in, and back afterwards. Runs before
/// the page renders, so nothing of an admin page reaches someone without a session. Whether a
/// signed-in account is an administrator is checked by the page's own server functions, which
/// find the account this guard verified in the request rather than reading it again.
pub async fn require_session_for_admin_pages(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path != "/admin" && !path.starts_with("/admin/") {
        return next.run(request).await;
    }
    match account_in(&session, &state).await {
        Ok(Some(account)) => {
            // The page's own server functions, run while it renders, take it from here, and
            // share what they read (`state::page_reads`).
            request.extensions_mut().insert(VerifiedAccount(account));
            request.extensions_mut().insert(PageReads::default());
            next.run(request).await
        }
        Ok(None) => {
            let here = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or(path);
            Redirect::to(&sign_in_path_returning_to(here)).into_response()
        }
        Err(error) => error.into_response(),
    }
}
