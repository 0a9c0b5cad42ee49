//! The browser bundle (the wasm, its JavaScript loader and the stylesheet) served under
//! content-hashed names, compressed and cached for a year.
//!
//! At start the server reads `pkg/service-ping.{js,wasm,css}` from the site root and names them
//! `service-ping.<hash>.*` after the sha256 of the three together, so a page always asks for the
//! bundle this binary serves and a browser never has to ask again for a name it has seen: the
//! name changes when any byte does. The build precompresses them (`cargo leptos build --release
//! --precompress` writes `.br` and `.gz` beside each file), so a request costs no compression:
//! the server holds every variant in memory and picks the one the browser accepts. Any other
//! file under `/pkg/` (and the unhashed names) is served from disk with `Cache-Control:
//! no-cache`, so it is revalidated on each use.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The name cargo-leptos gives the bundle's files (`output-name`).
const OUTPUT_NAME: &str = "service-ping";

/// The bundle's files and what they are served as.
const BUNDLE: [(&str, &str); 3] = [
    ("js", "text/javascript"),
    ("wasm", "application/wasm"),
    ("css", "text/css"),
];

/// A year, the longest `max-age` caches honour; the name changes before the content does.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Revalidate on every use (files whose name does not change with their content).
const REVALIDATE: &str = "no-cache";

/// One file of the bundle in each encoding the build produced.
struct Asset {
    content_type: &'static str,
    identity: axum::body::Bytes,
    brotli: Option<axum::body::Bytes>,
    gzip: Option<axum::body::Bytes>,
}

/// The bundle as this process serves it.
pub struct SiteAssets {
    /// `service-ping.<hash>`, or `service-ping` when the site has no bundle (a server started
    /// without `make site`: pages render, nothing hydrates).
    output_name: String,
    by_name: HashMap<String, Asset>,
    pkg_dir: std::path::PathBuf,
}

impl SiteAssets {
    /// Reads the bundle under `site_root/pkg`.
    pub fn load(site_root: &Path) -> std::io::Result<Self> {
        let pkg_dir = site_root.join("pkg");
        let mut files = Vec::new();
        for (extension, content_type) in BUNDLE {
            let path = pkg_dir.join(format!("{OUTPUT_NAME}.{extension}"));
            match std::fs::read(&path) {
                Ok(bytes) => files.push((extension, content_type, path, bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(path = %path.display(), "no browser bundle in the site root: pages will not hydrate (make site builds it)");
                    return Ok(Self {
                        output_name: OUTPUT_NAME.to_string(),
                        by_name: HashMap::new(),
                        pkg_dir,
                    });
                }
                Err(error) => return Err(error),
            }
        }
        let mut hash = Sha256::new();
        for (_, _, _, bytes) in &files {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        let output_name = format!("{OUTPUT_NAME}.{}", &hex::encode(hash.finalize())[..16]);
        let mut by_name = HashMap::new();
        for (extension, content_type, path, bytes) in files {
            let asset = Asset {
                content_type,
                brotli: precompressed(&path, "br")?,
                gzip: precompressed(&path, "gz")?,
                identity: bytes.into(),
            };
            if asset.brotli.is_none() || asset.gzip.is_none() {
                tracing::warn!(path = %path.display(), "the bundle was built without --precompress: served uncompressed");
            }
            by_name.insert(format!("{output_name}.{extension}"), asset);
        }
        Ok(Self {
            output_name,
            by_name,
            pkg_dir,
        })
    }

    /// The name Leptos's hydration script loads `<name>.js` and `<name>.wasm` by.
    pub fn output_name(&self) -> &str {
        &self.output_name
    }

    /// `GET /pkg/{file}`.
    pub async fn serve(self: Arc<Self>, request: Request) -> Response {
        let file = request.uri().path().trim_start_matches("/pkg/");
        match self.by_name.get(file) {
            Some(asset) => asset.response(request.headers()),
            None => self.serve_from_disk(request).await,
        }
    }

    /// Anything else under `/pkg/`, from disk (precompressed variants included), revalidated.
    async fn serve_from_disk(&self, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        // ServeDir serves paths relative to its directory.
        let relative = parts.uri.path().trim_start_matches("/pkg").to_string();
        parts.uri = match relative.parse() {
            Ok(uri) => uri,
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        };
        let service = ServeDir::new(&self.pkg_dir)
            .precompressed_br()
            .precompressed_gzip();
        match service.oneshot(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let mut response = response.map(Body::new);
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
                response
            }
            Err(error) => match error {},
        }
    }
}

impl Asset {
    /// The smallest encoding the request accepts.
    fn response(&self, request: &HeaderMap) -> Response {
        let accepted = accepted_encodings(request);
        let (encoding, body) = match (&self.brotli, &self.gzip) {
            (Some(brotli), _) if accepted.brotli => (Some("br"), brotli.clone()),
            (_, Some(gzip)) if accepted.gzip => (Some("gzip"), gzip.clone()),
            _ => (None, self.identity.clone()),
        };
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    }
}

/// The file's precompressed variant (`<file>.<suffix>`) when the build wrote one after the file
/// itself; an older one belongs to another build and is ignored.
fn precompressed(path: &Path, suffix: &str) -> std::io::Result<Option<axum::body::Bytes>> {
    let variant = path.with_extension(format!(
        "{}.{suffix}",
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
    ));
    let (Ok(original), Ok(compressed)) = (std::fs::metadata(path), std::fs::metadata(&variant))
    else {
        return Ok(None);
    };
    if compressed.modified()? < original.modified()? {
        tracing::warn!(path = %variant.display(), "ignoring a compressed file older than its original");
        return Ok(None);
    }
    Ok(Some(std::fs::read(&variant)?.into()))
}

/// Which of brotli and gzip an `Accept-Encoding` header allows (`q=0` refuses one).
#[derive(Debug, Default, PartialEq, Eq)]
struct Accepted {
    brotli: bool,
    gzip: bool,
}

fn accepted_encodings(headers: &HeaderMap) -> Accepted {
    let mut accepted = Accepted::default();
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match coding.to_ascii_lowercase().as_str() {
                "br" => accepted.brotli = !refused,
                "gzip" | "x-gzip" => accepted.gzip = !refused,
                "*" if !refused => {
                    accepted.brotli = true;
                    accepted.gzip = true;
                }
                _ => {}
            }
        }
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> Accepted {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        accepted_encodings(&headers)
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let both = Accepted {
            brotli: true,
            gzip: true,
        };
        assert_eq!(accepts("gzip, deflate, br, zstd"), both);
        assert_eq!(
            accepts("gzip;q=1.0, br;q=0"),
            Accepted {
                brotli: false,
                gzip: true
            }
        );
        assert_eq!(accepts("identity"), Accepted::default());
        assert_eq!(accepts("*"), both);
        assert_eq!(
            accepts("BR"),
            Accepted {
                brotli: true,
                gzip: false
            }
        );
        assert_eq!(accepted_encodings(&HeaderMap::new()), Accepted::default());
    }

    #[tokio::test]
    async fn the_bundle_is_served_under_its_hash_in_the_encoding_the_browser_accepts() {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        for extension in ["js", "wasm", "css"] {
            std::fs::write(pkg.join(format!("service-ping.{extension}")), extension).unwrap();
        }
        std::fs::write(pkg.join("service-ping.wasm.br"), "brotli").unwrap();
        std::fs::write(pkg.join("service-ping.wasm.gz"), "gzip").unwrap();
        let assets = Arc::new(SiteAssets::load(site.path()).unwrap());
        let name = assets.output_name().to_string();
        assert!(name.starts_with("service-ping.") && name.len() == "service-ping.".len() + 16);

        let get = |path: String, encoding: &'static str| {
            let assets = assets.clone();
            async move {
                let request = Request::builder()
                    .uri(path)
                    .header(header::ACCEPT_ENCODING, encoding)
                    .body(Body::empty())
                    .unwrap();
                let response = assets.serve(request).await;
                let headers = response.headers().clone();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (headers, body)
            }
        };
        let (headers, body) = get(format!("/pkg/{name}.wasm"), "gzip, br").await;
        assert_eq!(body, "brotli");
        assert_eq!(headers[header::CONTENT_ENCODING], "br");
        assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(get(format!("/pkg/{name}.wasm"), "gzip").await.1, "gzip");
        let (headers, body) = get(format!("/pkg/{name}.wasm"), "identity").await;
        assert_eq!(body, "wasm");
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        // Without precompressed variants, the file as it is.
        let (headers, body) = get(format!("/pkg/{name}.css"), "br").await;
        assert_eq!(
            (body.as_ref(), headers.get(header::CONTENT_ENCODING)),
            (&b"css"[..], None)
        );
        // The unhashed name still answers, but is revalidated on each use.
        let (headers, body) = get("/pkg/service-ping.css".to_string(), "br").await;
        assert_eq!(body, "css");
        assert_eq!(headers[header::CACHE_CONTROL], REVALIDATE);
    }

    #[test]
    fn the_hash_changes_with_any_file_of_the_bundle() {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        for extension in ["js", "wasm", "css"] {
            std::fs::write(pkg.join(format!("service-ping.{extension}")), extension).unwrap();
        }
        let before = SiteAssets::load(site.path()).unwrap().output_name;
        std::fs::write(pkg.join("service-ping.css"), "changed").unwrap();
        let after = SiteAssets::load(site.path()).unwrap().output_name;
        assert_ne!(before, after);
        std::fs::remove_file(pkg.join("service-ping.js")).unwrap();
        assert_eq!(
            SiteAssets::load(site.path()).unwrap().output_name,
            "service-ping"
        );
    }
}
