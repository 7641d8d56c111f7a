//! The dashboard: a single-page web application served by both listeners at `/`, over
//! the same REST API any client uses (`docs/api.md`, "Dashboard").
//!
//! Its files (`assets/`: HTML, hand-written JavaScript modules, CSS and SVG; no bundler,
//! no framework, nothing fetched at build time) are embedded in the binary. The page at
//! `/` names the door's API prefix and the assets' version in `<meta>` tags; the assets
//! are served under `/assets/VERSION/NAME`, where `VERSION` is a hash of every asset, so
//! they are cached for a year as immutable and a new build is a new URL (relative module
//! imports stay under the same version). The page itself is revalidated on every load
//! (`no-cache` with an `ETag`); an `If-None-Match` that matches is answered 304.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and connections
//! of this origin only, no inline script or style, no framing, no plugin, no form posted
//! elsewhere. The application builds its DOM with `createElement`/`textContent` (never
//! `innerHTML`), so a name from a user's file is never markup.
//!
//! No route here needs a token: the files hold no data. The application asks the user for
//! a bearer token and sends it with each API request (`Authorization: Bearer`); it never
//! puts it in a URL.

use crate::auth::Door;
use crate::routes;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::LazyLock;

/// The Content-Security-Policy of every dashboard answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The files under `/assets/VERSION/`.
const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("live.js", JS),
    asset!("charts.js", JS),
    asset!("export.js", JS),
    asset!("page-signin.js", JS),
    asset!("page-benchmarks.js", JS),
    asset!("page-report.js", JS),
    asset!("page-jobs.js", JS),
    asset!("page-new.js", JS),
    asset!("page-internal.js", JS),
];

/// The page template: `{{version}}`, `{{door}}` and `{{api}}` are filled in per door.
const INDEX: &str = include_str!("assets/index.html");

/// The assets' version, their ETags and each door's page, computed once.
struct Bundle {
    version: String,
    etags: Vec<HeaderValue>,
    public: Page,
    internal: Page,
}

/// The page of one door.
struct Page {
    html: Bytes,
    etag: HeaderValue,
}

/// A strong ETag of `bytes`: the first 16 bytes of their SHA-256, in hex.
fn etag(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let mut tag = String::from("\"");
    for b in &digest[..16] {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    // Hex digits and quotes only: always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let mut all = Sha256::new();
    for a in ASSETS {
        all.update(a.name.as_bytes());
        all.update([0]);
        all.update((a.body.len() as u64).to_le_bytes());
        all.update(a.body);
    }
    let mut version = String::new();
    for b in &all.finalize()[..8] {
        let _ = write!(version, "{b:02x}");
    }
    let page = |door: Door| {
        let html = INDEX
            .replace("{{version}}", &version)
            .replace("{{door}}", door.as_str())
            .replace("{{api}}", routes::prefix(door));
        let etag = etag(html.as_bytes());
        Page {
            html: Bytes::from(html),
            etag,
        }
    };
    Bundle {
        etags: ASSETS.iter().map(|a| etag(a.body)).collect(),
        public: page(Door::Public),
        internal: page(Door::Internal),
        version,
    }
});

/// The assets' version (a hash of every embedded file): the path segment after
/// `/assets/`.
pub fn version() -> &'static str {
    &BUNDLE.version
}

/// The dashboard's routes at `door`: `/` and `/assets/{version}/{name}`.
pub(crate) fn router(door: Door) -> Router<AppState> {
    Router::new()
        .route("/", get(move |headers: HeaderMap| index(door, headers)))
        .route("/assets/{version}/{name}", get(asset))
        .layer(axum::middleware::map_response(secure))
}

/// Whether `If-None-Match` of `headers` names `tag` (or is `*`).
fn fresh(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().trim_start_matches("W/"))
        .any(|v| v == "*" || v.as_bytes() == tag.as_bytes())
}

/// The answer for a file: 304 when the client's copy is current, else the body.
fn answer(
    headers: &HeaderMap,
    tag: &HeaderValue,
    cache: &'static str,
    content_type: &'static str,
    body: Bytes,
) -> Response {
    let common = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ];
    if fresh(headers, tag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn index(door: Door, headers: HeaderMap) -> Response {
    let page = match door {
        Door::Public => &BUNDLE.public,
        Door::Internal => &BUNDLE.internal,
    };
    answer(
        &headers,
        &page.etag,
        "no-cache",
        "text/html; charset=utf-8",
        page.html.clone(),
    )
}

async fn asset(Path((version, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let found = ASSETS.iter().position(|a| a.name == name);
    match found {
        // Another build's URL: not this content, so not cacheable as it.
        Some(i) if version == BUNDLE.version => answer(
            &headers,
            &BUNDLE.etags[i],
            "public, max-age=31536000, immutable",
            ASSETS[i].content_type,
            Bytes::from_static(ASSETS[i].body),
        ),
        _ => crate::error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such asset")
            .into_response(),
    }
}

/// The security headers of every dashboard answer.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ] {
        headers.insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_a_module_imports_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).expect("UTF-8");
            for part in text.split("from './").skip(1) {
                let imported = &part[..part.find('\'').expect("a closing quote")];
                assert!(
                    names.contains(&imported),
                    "{} imports {imported}, which is not embedded",
                    a.name
                );
            }
        }
        for name in ["app.js", "app.css", "icon.svg"] {
            assert!(INDEX.contains(&format!("/assets/{{{{version}}}}/{name}")));
        }
    }

    #[test]
    fn if_none_match_is_read_as_a_list_of_tags_weak_or_strong() {
        let tag = HeaderValue::from_static("\"abc\"");
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_static(v));
            fresh(&h, &tag)
        };
        assert!(with("\"abc\""));
        assert!(with("\"x\", W/\"abc\""));
        assert!(with("*"));
        assert!(!with("\"abd\""));
        assert!(!fresh(&HeaderMap::new(), &tag));
        assert_eq!(version().len(), 16);
        assert!(version().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
