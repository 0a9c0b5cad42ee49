//! Strict forms: a server function's form body is refused (422, as the server function's own
//! validation error) when a value is not UTF-8 once decoded, or when a key appears twice (other
//! than a list's `key[]`). The form decoder would otherwise replace bad bytes with U+FFFD and
//! keep one of the duplicates, storing something the sender never wrote.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// Middleware: checks a form-encoded body before the server function decodes it. The body
/// limit has already bounded what is read here.
pub async fn refuse_malformed_forms(request: Request, next: Next) -> Response {
    if !is_form(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        // Over the body limit, most likely: the limit layer has already chosen the answer.
        Err(error) => return (StatusCode::PAYLOAD_TOO_LARGE, error.to_string()).into_response(),
    };
    if let Err(reason) = check_form(&bytes) {
        let refusal = ApiError::Validation(reason);
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(refusal)).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_form(request: &Request) -> bool {
    service_ping_web::has_content_type(request.headers(), "application/x-www-form-urlencoded")
}

/// Why `body` is not a form we accept, if it is not.
fn check_form(body: &Bytes) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        let mut halves = pair.splitn(2, |b| *b == b'=');
        let key = decode(halves.next().unwrap_or_default())?;
        decode(halves.next().unwrap_or_default())?;
        if !key.ends_with("[]") && !seen.insert(key.clone()) {
            return Err(format!("The field `{key}` was sent twice."));
        }
    }
    Ok(())
}

fn decode(raw: &[u8]) -> Result<String, String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| "The form is not valid UTF-8 text.".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_forms_pass_and_bad_bytes_or_repeated_fields_do_not() {
        for good in [
            "",
            "login=root&password=a+b%20c",
            "name=%C3%A9t%C3%A9&scopes[]=a&scopes[]=b",
            "scopes[0]=a&scopes[1]=b",
        ] {
            assert_eq!(check_form(&Bytes::from(good)), Ok(()), "{good}");
        }
        for bad in [
            &b"login=%FF"[..],
            b"login=\xff\xfe",
            b"%C3=x",
            b"enabled=true&enabled=false",
        ] {
            assert!(check_form(&Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }
}
