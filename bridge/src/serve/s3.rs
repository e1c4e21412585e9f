//! S3's REST protocol on the local buckets, path-style (`/bucket/key`) and
//! virtual-host-style (`Host: bucket.localhost:4566`).
//!
//! An object is the file of its bucket's directory. A body is streamed to a hidden staging
//! file in that directory (`.bridge-serve/`, which scans ignore) while its MD5 is computed,
//! fsync'd, then renamed into place inside the transaction that records the object and
//! delivers its S3 events ([`infra::local::Store::commit_object`]): the answer comes after
//! the commit, a multi-GB upload never sits in memory, and the directory scan of `bridge
//! dev` does not announce the file a second time.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use infra::local::clock::{rfc3339_millis, rfc5322};
use infra::local::{CreatedReason, ObjectMetadata};
use md5::{Digest, Md5};

use super::protocol::{elements, respond, unxml, xml, ApiError, Body};
use super::{header, Shared};

const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// Hidden staging directory inside each bucket directory (same file system: renames).
const STAGING: &str = ".bridge-serve";
/// S3's smallest part (all but the last).
const MIN_PART: u64 = 5 * 1024 * 1024;

pub async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let resource = req.uri().path().to_string();
    match route(shared, req).await {
        Ok(r) => r,
        Err(e) => {
            let e = if e.code == "InvalidParameterValue" {
                ApiError::bad_request("InvalidArgument", e.message)
            } else {
                e
            };
            e.s3_xml(head, &resource)
        }
    }
}

fn not_implemented(what: &str) -> ApiError {
    ApiError::bad_request(
        "NotImplemented",
        format!(
            "bridge dev --serve does not implement S3 {what} (docs/serve.md lists what it serves)"
        ),
    )
    .with_status(501)
}

fn no_such_key() -> ApiError {
    ApiError::bad_request("NoSuchKey", "The specified key does not exist.").with_status(404)
}

fn no_such_upload() -> ApiError {
    ApiError::bad_request(
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with_status(404)
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// S3's `encoding-type=url`: everything but unreserved characters and `/` percent-encoded.
fn url_encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// (bucket, key) of a request: virtual-host-style when the host is `<bucket>.localhost`,
/// else the first path segment.
fn bucket_and_key<B>(req: &Request<B>) -> (String, String) {
    let host = header(req, "host").unwrap_or_default();
    let host_name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(&host);
    let path = req.uri().path();
    if let Some(bucket) = host_name.strip_suffix(".localhost") {
        if !bucket.is_empty() {
            return (
                decode(bucket),
                decode(path.strip_prefix('/').unwrap_or(path)),
            );
        }
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.split_once('/') {
        Some((b, k)) => (decode(b), decode(k)),
        None => (decode(path), String::new()),
    }
}

fn query_params<B>(req: &Request<B>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (bucket, key) = bucket_and_key(&req);
    // `x-id=PutObject` etc. is the Rust SDK's hint for proxies, not a subresource.
    let params: Vec<(String, String)> = query_params(&req)
        .into_iter()
        .filter(|(k, _)| k != "x-id")
        .collect();
    let has = |name: &str| param(&params, name).is_some();
    let method = req.method().clone();
    if bucket.is_empty() {
        return match method {
            Method::GET => list_buckets(shared).await,
            _ => Err(not_implemented(&format!("{method} /"))),
        };
    }
    if key.is_empty() {
        return match method {
            Method::GET if has("list-type") => list_objects_v2(shared, &bucket, &params).await,
            Method::GET if has("location") => {
                shared
                    .store({
                        let b = bucket.clone();
                        move |s| s.bucket_dir(&b)
                    })
                    .await?;
                let region = if shared.region() == "us-east-1" {
                    String::new()
                } else {
                    xml(shared.region())
                };
                Ok(xml_response(format!(
                    "<LocationConstraint xmlns=\"{S3_XMLNS}\">{region}</LocationConstraint>"
                )))
            }
            Method::GET if params.is_empty() => Err(not_implemented(
                "ListObjects (version 1; use ListObjectsV2)",
            )),
            Method::HEAD => {
                shared
                    .store({
                        let b = bucket.clone();
                        move |s| s.bucket_dir(&b)
                    })
                    .await?;
                let mut r = respond(200, "application/xml", Bytes::new());
                if let Ok(v) = shared.region().parse() {
                    r.headers_mut().insert("x-amz-bucket-region", v);
                }
                Ok(r)
            }
            Method::POST if has("delete") => delete_objects(shared, &bucket, req).await,
            Method::PUT if params.is_empty() => {
                let b = bucket.clone();
                let exists = shared.store(move |s| Ok(s.bucket_dir(&b).is_ok())).await?;
                if exists {
                    Err(ApiError::bad_request("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.").with_status(409))
                } else {
                    Err(not_implemented(
                        "CreateBucket (local buckets are declared in the project's bridge.json)",
                    ))
                }
            }
            _ => Err(not_implemented(&format!(
                "{method} on a bucket with ?{}",
                subresources(&params)
            ))),
        };
    }
    let upload_id = param(&params, "uploadId").map(str::to_string);
    match method {
        Method::PUT if upload_id.is_some() && has("partNumber") => {
            if req.headers().contains_key("x-amz-copy-source") {
                return Err(not_implemented("UploadPartCopy"));
            }
            let part: u32 = param(&params, "partNumber")
                .and_then(|p| p.parse().ok())
                .filter(|p| (1..=10_000).contains(p))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive",
                    )
                })?;
            upload_part(
                shared,
                &bucket,
                &key,
                upload_id.as_deref().unwrap_or_default(),
                part,
                req,
            )
            .await
        }
        Method::PUT if params.is_empty() && req.headers().contains_key("x-amz-copy-source") => {
            copy_object(shared, &bucket, &key, req).await
        }
        Method::PUT if params.is_empty() => put_object(shared, &bucket, &key, req).await,
        Method::GET if params.iter().all(|(k, _)| k.starts_with("response-")) => {
            get_object(shared, &bucket, &key, &req, &params, false).await
        }
        Method::HEAD if params.is_empty() => {
            get_object(shared, &bucket, &key, &req, &params, true).await
        }
        Method::DELETE if upload_id.is_some() => {
            let id = upload_id.unwrap_or_default();
            let dir = upload_dir(shared, &bucket, &id).await?;
            upload_key(&dir, &key)?;
            std::fs::remove_dir_all(&dir)
                .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
            Ok(respond(204, "application/xml", Bytes::new()))
        }
        Method::DELETE if params.is_empty() => {
            let (b, k) = (bucket.clone(), key.clone());
            shared.write(move |w| w.delete_object(&b, &k)).await?;
            Ok(respond(204, "application/xml", Bytes::new()))
        }
        Method::POST if has("uploads") => {
            create_multipart(shared, &bucket, &key, metadata_of(&req)).await
        }
        Method::POST if upload_id.is_some() => {
            complete_multipart(
                shared,
                &bucket,
                &key,
                upload_id.as_deref().unwrap_or_default(),
                req,
            )
            .await
        }
        _ => Err(not_implemented(&format!(
            "{method} on an object with ?{}",
            subresources(&params)
        ))),
    }
}

fn subresources(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join("&")
}

fn xml_response(body: String) -> Response<Body> {
    respond(
        200,
        "application/xml",
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
}

fn http_date(ms: i64) -> String {
    rfc5322(ms).replace(" +0000", " GMT")
}

fn etag_header(r: &mut Response<Body>, etag: &str) {
    if let Ok(v) = format!("\"{etag}\"").parse() {
        r.headers_mut().insert("etag", v);
    }
}

async fn list_buckets(shared: &Arc<Shared>) -> Result<Response<Body>, ApiError> {
    let buckets = shared.store(|s| s.list_buckets()).await?;
    let mut out = format!(
        "<ListAllMyBucketsResult xmlns=\"{S3_XMLNS}\"><Owner><ID>{0}</ID><DisplayName>local</DisplayName></Owner><Buckets>",
        shared.account()
    );
    for b in buckets {
        let created = std::fs::metadata(&b.dir)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        out.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
            xml(&b.name),
            rfc3339_millis(created)
        ));
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    Ok(xml_response(out))
}

/// The ETag of an object file: the one recorded for it, or its MD5 computed now.
fn etag_of(
    s: &mut infra::local::Store,
    bucket: &str,
    key: &str,
    path: &Path,
    size: u64,
    mtime: i64,
) -> Result<String, infra::local::LocalError> {
    if let Some(e) = s.object_etag(bucket, key, size, mtime)? {
        return Ok(e);
    }
    let (_, md5) = md5_of_file(path).map_err(|source| infra::local::LocalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(md5)
}

fn md5_of_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, format!("{:x}", hasher.finalize())))
}

fn mtime_ms_ns(meta: &std::fs::Metadata) -> (i64, i64) {
    let ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    (ns / 1_000_000, ns)
}

async fn list_objects_v2(
    shared: &Arc<Shared>,
    bucket: &str,
    params: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let prefix = param(params, "prefix").unwrap_or("").to_string();
    let delimiter = param(params, "delimiter").unwrap_or("").to_string();
    let max_keys: usize = match param(params, "max-keys") {
        None => 1000,
        Some(m) => m.parse().map_err(|_| {
            ApiError::bad_request(
                "InvalidArgument",
                "Provided max-keys not an integer or within integer range",
            )
        })?,
    };
    let max_keys = max_keys.min(1000);
    let token = param(params, "continuation-token").map(str::to_string);
    let start_after = param(params, "start-after").unwrap_or("").to_string();
    let after = match &token {
        Some(t) => {
            let bytes = (0..t.len() / 2)
                .map(|i| {
                    t.get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidArgument",
                        "The continuation token provided is incorrect",
                    )
                })?;
            bytes
        }
        None => start_after.clone(),
    };
    let url = param(params, "encoding-type") == Some("url");
    let enc = |t: &str| if url { url_encode(t) } else { xml(t) };
    let b = bucket.to_string();
    let (p, d, a) = (prefix.clone(), delimiter.clone(), after.clone());
    // (key, size, mtime ms, etag) or a common prefix (etag None).
    let (entries, truncated, resume) = shared
        .store(move |s| {
            let dir = s.bucket_dir(&b)?;
            let mut entries: Vec<(String, u64, i64, Option<String>)> = Vec::new();
            let mut resume = None;
            let mut truncated = false;
            for (key, size, mtime_ns) in s.list_objects(&b)? {
                if !key.starts_with(&p) || key.as_str() <= a.as_str() {
                    continue;
                }
                let common = if d.is_empty() {
                    None
                } else {
                    key[p.len()..]
                        .find(&d)
                        .map(|i| key[..p.len() + i + d.len()].to_string())
                };
                if let Some(cp) = &common {
                    if entries.last().is_some_and(|e| e.3.is_none() && &e.0 == cp) {
                        continue;
                    }
                }
                if entries.len() == max_keys {
                    truncated = true;
                    break;
                }
                match common {
                    Some(cp) => {
                        resume = Some(format!("{cp}\u{10FFFF}"));
                        entries.push((cp, 0, 0, None));
                    }
                    None => {
                        let path = dir.join(infra::local::buckets::object_rel_path(&key)?);
                        let etag = etag_of(s, &b, &key, &path, size, mtime_ns)?;
                        resume = Some(key.clone());
                        entries.push((key, size, mtime_ns / 1_000_000, Some(etag)));
                    }
                }
            }
            Ok((entries, truncated, resume))
        })
        .await?;
    let mut out = format!(
        "<ListBucketResult xmlns=\"{S3_XMLNS}\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
        xml(bucket),
        enc(&prefix),
        entries.len()
    );
    if !delimiter.is_empty() {
        out.push_str(&format!("<Delimiter>{}</Delimiter>", enc(&delimiter)));
    }
    out.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
    if let Some(t) = &token {
        out.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml(t)
        ));
    }
    if truncated {
        if let Some(r) = resume {
            let hex: String = r.bytes().map(|b| format!("{b:02x}")).collect();
            out.push_str(&format!(
                "<NextContinuationToken>{hex}</NextContinuationToken>"
            ));
        }
    }
    if !start_after.is_empty() {
        out.push_str(&format!("<StartAfter>{}</StartAfter>", enc(&start_after)));
    }
    if url {
        out.push_str("<EncodingType>url</EncodingType>");
    }
    for (key, size, mtime_ms, etag) in &entries {
        match etag {
            Some(etag) => out.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                enc(key),
                rfc3339_millis(*mtime_ms),
                xml(etag)
            )),
            None => out.push_str(&format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", enc(key))),
        }
    }
    out.push_str("</ListBucketResult>");
    Ok(xml_response(out))
}

/// A staging file in the bucket's directory (hidden from scans, same file system).
async fn staging_file(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
) -> Result<(PathBuf, PathBuf), ApiError> {
    let (b, k) = (bucket.to_string(), key.to_string());
    let (dir, _) = shared
        .store(move |s| {
            let path = s.object_path(&b, &k)?;
            Ok((s.bucket_dir(&b)?, path))
        })
        .await?;
    let staging = dir.join(STAGING);
    std::fs::create_dir_all(&staging)
        .map_err(|e| ApiError::internal(format!("{}: {e}", staging.display())))?;
    let file = staging.join(uuid::Uuid::new_v4().to_string());
    Ok((dir, file))
}

/// Decodes `Content-Encoding: aws-chunked` bodies (the SDKs' streaming uploads with trailing
/// checksums): `<hex size>[;chunk-signature=…]\r\n<data>\r\n`, ending with a 0-size chunk
/// and trailers. Chunk signatures and trailing checksums are not verified.
enum Chunked {
    Size(Vec<u8>),
    Data(u64),
    DataEnd(u8),
    Trailer,
}

impl Chunked {
    fn feed(
        &mut self,
        mut input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<(), ApiError> {
        let bad = |why: &str| {
            ApiError::bad_request(
                "IncompleteBody",
                format!("malformed aws-chunked body: {why}"),
            )
        };
        while !input.is_empty() {
            match self {
                Chunked::Size(line) => match input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        line.extend_from_slice(&input[..i]);
                        input = &input[i + 1..];
                        let text = String::from_utf8_lossy(line).trim().to_string();
                        let hex = text.split(';').next().unwrap_or_default().trim();
                        let n = u64::from_str_radix(hex, 16)
                            .map_err(|_| bad("a chunk size is not hexadecimal"))?;
                        *self = if n == 0 {
                            Chunked::Trailer
                        } else {
                            Chunked::Data(n)
                        };
                    }
                    None => {
                        line.extend_from_slice(input);
                        if line.len() > 4096 {
                            return Err(bad("a chunk header is too long"));
                        }
                        input = &[];
                    }
                },
                Chunked::Data(rest) => {
                    let take = (*rest).min(input.len() as u64) as usize;
                    sink(&input[..take])
                        .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
                    input = &input[take..];
                    *rest -= take as u64;
                    if *rest == 0 {
                        *self = Chunked::DataEnd(2);
                    }
                }
                Chunked::DataEnd(k) => {
                    let take = (*k as usize).min(input.len());
                    input = &input[take..];
                    *k -= take as u8;
                    if *k == 0 {
                        *self = Chunked::Size(Vec::new());
                    }
                }
                Chunked::Trailer => input = &[],
            }
        }
        Ok(())
    }
}

fn is_aws_chunked<B>(req: &Request<B>) -> bool {
    header(req, "content-encoding").is_some_and(|c| c.contains("aws-chunked"))
        || header(req, "x-amz-content-sha256").is_some_and(|c| c.starts_with("STREAMING-"))
}

/// Streams a request body into `path` (fsync'd), returning its size and MD5 (raw bytes).
async fn receive_to_file(req: Request<Incoming>, path: &Path) -> Result<(u64, [u8; 16]), ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", path.display()));
    let mut decoder = is_aws_chunked(&req).then(|| Chunked::Size(Vec::new()));
    let expected_md5 = header(&req, "content-md5");
    let file = std::fs::File::create(path).map_err(io)?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Md5::new();
    let mut size = 0u64;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request("IncompleteBody", format!("reading the request body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        tokio::task::block_in_place(|| {
            let mut sink = |bytes: &[u8]| {
                hasher.update(bytes);
                size += bytes.len() as u64;
                writer.write_all(bytes)
            };
            match &mut decoder {
                Some(d) => d.feed(&data, &mut sink),
                None => sink(&data).map_err(io),
            }
        })?;
    }
    let digest: [u8; 16] = hasher.finalize().into();
    tokio::task::block_in_place(|| {
        let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    })?;
    if let Some(expected) = expected_md5 {
        use base64::Engine;
        if base64::engine::general_purpose::STANDARD.encode(digest) != expected.trim() {
            let _ = std::fs::remove_file(path);
            return Err(ApiError::bad_request(
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok((size, digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// S3's default Content-Type, for an object stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The metadata an upload carries: Content-Type, Content-Encoding (without the
/// `aws-chunked` of the transfer), Cache-Control, Content-Disposition and `x-amz-meta-*`.
fn metadata_of<B>(req: &Request<B>) -> ObjectMetadata {
    let encoding = header(req, "content-encoding").and_then(|e| {
        let kept: Vec<&str> = e
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "aws-chunked")
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let user = req
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix("x-amz-meta-")?;
            Some((name.to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    ObjectMetadata {
        content_type: header(req, "content-type"),
        content_encoding: encoding,
        cache_control: header(req, "cache-control"),
        content_disposition: header(req, "content-disposition"),
        user,
    }
}

/// Makes `staged` the object, with `meta` kept for it. The metadata is written first, for
/// the ETag the object will have, so that whoever reacts to the object's event sees it.
async fn commit(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    staged: PathBuf,
    etag: String,
    reason: CreatedReason,
    meta: ObjectMetadata,
) -> Result<(), ApiError> {
    let (b, k) = (bucket.to_string(), key.to_string());
    let cleanup = staged.clone();
    let out = shared
        .write(move |w| {
            w.put_object_metadata(&b, &k, &etag, &meta)?;
            w.commit_object(&b, &k, &staged, &etag, reason)
        })
        .await;
    if out.is_err() {
        let _ = std::fs::remove_file(&cleanup);
    }
    out?;
    shared.wake_receivers();
    Ok(())
}

async fn put_object(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let meta = metadata_of(&req);
    let (_, staged) = staging_file(shared, bucket, key).await?;
    let (_, digest) = match receive_to_file(req, &staged).await {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    let etag = hex(&digest);
    commit(
        shared,
        bucket,
        key,
        staged,
        etag.clone(),
        CreatedReason::Put,
        meta,
    )
    .await?;
    let mut r = respond(200, "application/xml", Bytes::new());
    etag_header(&mut r, &etag);
    Ok(r)
}

async fn copy_object(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let source = header(&req, "x-amz-copy-source").unwrap_or_default();
    let source = source.split('?').next().unwrap_or_default();
    let source = decode(source.trim_start_matches('/'));
    let Some((src_bucket, src_key)) = source.split_once('/') else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        ));
    };
    let replace = match header(&req, "x-amz-metadata-directive").as_deref() {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                format!("Unknown metadata directive: {other}"),
            ))
        }
    };
    if !replace && src_bucket == bucket && src_key == key {
        return Err(ApiError::bad_request(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (sb, sk) = (src_bucket.to_string(), src_key.to_string());
    let (src, src_meta) = shared
        .store(move |s| {
            let path = s.object_path(&sb, &sk)?;
            let Ok(file) = std::fs::metadata(&path) else {
                return Ok((path, ObjectMetadata::default()));
            };
            let (_, ns) = mtime_ms_ns(&file);
            let etag = etag_of(s, &sb, &sk, &path, file.len(), ns)?;
            let meta = s.object_metadata(&sb, &sk, &etag)?;
            Ok((path, meta))
        })
        .await?;
    if !src.is_file() {
        return Err(no_such_key());
    }
    let meta = if replace { metadata_of(&req) } else { src_meta };
    let (_, staged) = staging_file(shared, bucket, key).await?;
    let target = staged.clone();
    let copied = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut input = std::fs::File::open(&src)?;
        let mut output = std::fs::File::create(&target)?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n])?;
        }
        output.sync_all()?;
        Ok(format!("{:x}", hasher.finalize()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let etag = match copied {
        Ok(e) => e,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(ApiError::internal(format!("copying {source}: {e}")));
        }
    };
    commit(
        shared,
        bucket,
        key,
        staged,
        etag.clone(),
        CreatedReason::Copy,
        meta,
    )
    .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(xml_response(format!(
        "<CopyObjectResult xmlns=\"{S3_XMLNS}\"><ETag>&quot;{etag}&quot;</ETag><LastModified>{}</LastModified></CopyObjectResult>",
        rfc3339_millis(now)
    )))
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against a size: the inclusive range, if satisfiable.
fn parse_range(range: &str, size: u64) -> Option<(u64, u64)> {
    let spec = range.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

async fn get_object(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    req: &Request<Incoming>,
    params: &[(String, String)],
    head: bool,
) -> Result<Response<Body>, ApiError> {
    let (b, k) = (bucket.to_string(), key.to_string());
    let found = shared
        .store(move |s| {
            let path = s.object_path(&b, &k)?;
            let Ok(meta) = std::fs::metadata(&path) else {
                return Ok(None);
            };
            if !meta.is_file() {
                return Ok(None);
            }
            let (ms, ns) = mtime_ms_ns(&meta);
            let etag = etag_of(s, &b, &k, &path, meta.len(), ns)?;
            let kept = s.object_metadata(&b, &k, &etag)?;
            Ok(Some((path, meta.len(), ms, etag, kept)))
        })
        .await?;
    let Some((path, size, mtime_ms, etag, kept)) = found else {
        return Err(no_such_key());
    };
    if let Some(want) = header(req, "if-none-match") {
        if want.trim_matches('"') == etag {
            let mut r = respond(304, "application/octet-stream", Bytes::new());
            etag_header(&mut r, &etag);
            return Ok(r);
        }
    }
    let range = header(req, "range");
    let (status, start, end) = match &range {
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (206, s, e),
            None => {
                return Err(ApiError::bad_request(
                    "InvalidRange",
                    "The requested range is not satisfiable",
                )
                .with_status(416));
            }
        },
        None => (200, 0, size.saturating_sub(1)),
    };
    let length = if size == 0 { 0 } else { end - start + 1 };
    let body = if head || length == 0 {
        super::protocol::empty()
    } else {
        stream_file(path, start, length)
    };
    let mut r = Response::new(body);
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    let headers = r.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    };
    // `response-content-type` & co. (GetObject's overrides) win over what was kept.
    let over = |name: &str| param(params, name).map(str::to_string);
    let content_type = over("response-content-type")
        .or(kept.content_type)
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
    set("content-type", content_type);
    for (name, header_name, value) in [
        (
            "response-content-encoding",
            "content-encoding",
            kept.content_encoding,
        ),
        (
            "response-cache-control",
            "cache-control",
            kept.cache_control,
        ),
        (
            "response-content-disposition",
            "content-disposition",
            kept.content_disposition,
        ),
    ] {
        if let Some(v) = over(name).or(value) {
            set(header_name, v);
        }
    }
    set("content-length", length.to_string());
    set("last-modified", http_date(mtime_ms));
    set("accept-ranges", "bytes".into());
    set("etag", format!("\"{etag}\""));
    if status == 206 {
        set("content-range", format!("bytes {start}-{end}/{size}"));
    }
    for (name, value) in &kept.user {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()),
            value.parse(),
        ) {
            headers.insert(n, v);
        }
    }
    Ok(r)
}

/// A file's bytes `[start, start + length)` as a response body, read on a blocking thread in
/// 256 KiB chunks (a bounded channel: memory stays flat however large the object is).
fn stream_file(path: PathBuf, start: u64, length: u64) -> Body {
    use std::io::Seek;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut file = match std::fs::File::open(&path)
            .and_then(|mut f| f.seek(std::io::SeekFrom::Start(start)).map(|_| f))
        {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut left = length;
        while left > 0 {
            let mut buf = vec![0u8; (256 * 1024).min(left as usize)];
            match file.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the object file shrank while it was being read",
                    )));
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    ChannelBody { rx }.boxed()
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

/// Reads a small request body (an XML document), decoding aws-chunked.
async fn small_body(req: Request<Incoming>) -> Result<String, ApiError> {
    let chunked = is_aws_chunked(&req);
    let limited = http_body_util::Limited::new(req.into_body(), 4 << 20);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| {
            ApiError::bad_request("MalformedXML", format!("cannot read the request body: {e}"))
        })?
        .to_bytes();
    let bytes = if chunked {
        let mut out = Vec::new();
        Chunked::Size(Vec::new()).feed(&bytes, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        out
    } else {
        bytes.to_vec()
    };
    String::from_utf8(bytes).map_err(|_| {
        ApiError::bad_request("MalformedXML", "The XML you provided was not well-formed")
    })
}

async fn delete_objects(
    shared: &Arc<Shared>,
    bucket: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let doc = small_body(req).await?;
    let quiet = elements(&doc, "Quiet")
        .first()
        .is_some_and(|q| q.trim() == "true");
    let keys: Vec<String> = elements(&doc, "Object")
        .iter()
        .filter_map(|o| elements(o, "Key").first().map(|k| unxml(k)))
        .collect();
    if keys.is_empty() || keys.len() > 1000 {
        return Err(ApiError::bad_request("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema (1 to 1000 objects)"));
    }
    let b = bucket.to_string();
    shared.store(move |s| s.bucket_dir(&b)).await?;
    let b = bucket.to_string();
    // One write, each key under its own savepoint: a key that fails leaves the others.
    let results = shared
        .write(move |w| {
            let mut out = Vec::new();
            for key in keys {
                let r = w.attempt(|w| w.delete_object(&b, &key))?.map(|_| ());
                out.push((key, r.map_err(ApiError::from)));
            }
            Ok(out)
        })
        .await?;
    let mut out = format!("<DeleteResult xmlns=\"{S3_XMLNS}\">");
    for (key, r) in results {
        match r {
            Ok(()) if quiet => {}
            Ok(()) => out.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", xml(&key))),
            Err(e) => out.push_str(&format!(
                "<Error><Key>{}</Key><Code>{}</Code><Message>{}</Message></Error>",
                xml(&key),
                xml(&e.code),
                xml(&e.message)
            )),
        }
    }
    out.push_str("</DeleteResult>");
    shared.wake_receivers();
    Ok(xml_response(out))
}

/// A multipart upload's directory: `<bucket dir>/.bridge-serve/mpu-<id>/` holding `key`
/// (the object key) and one file per part.
async fn upload_dir(shared: &Arc<Shared>, bucket: &str, id: &str) -> Result<PathBuf, ApiError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(no_such_upload());
    }
    let b = bucket.to_string();
    let dir = shared.store(move |s| s.bucket_dir(&b)).await?;
    let dir = dir.join(STAGING).join(format!("mpu-{id}"));
    if !dir.is_dir() {
        return Err(no_such_upload());
    }
    Ok(dir)
}

fn upload_key(dir: &Path, key: &str) -> Result<(), ApiError> {
    match std::fs::read_to_string(dir.join("key")) {
        Ok(k) if k == key => Ok(()),
        _ => Err(no_such_upload()),
    }
}

/// The upload's metadata, kept in its directory until it completes.
const UPLOAD_METADATA: &str = "metadata.json";

async fn create_multipart(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    meta: ObjectMetadata,
) -> Result<Response<Body>, ApiError> {
    let (dir, _) = staging_file(shared, bucket, key).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let upload = dir.join(STAGING).join(format!("mpu-{id}"));
    let meta = serde_json::to_vec(&meta).map_err(|e| ApiError::internal(e.to_string()))?;
    std::fs::create_dir_all(&upload)
        .and_then(|()| std::fs::write(upload.join(UPLOAD_METADATA), meta))
        .and_then(|()| std::fs::write(upload.join("key"), key))
        .map_err(|e| ApiError::internal(format!("{}: {e}", upload.display())))?;
    Ok(xml_response(format!(
        "<InitiateMultipartUploadResult xmlns=\"{S3_XMLNS}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
        xml(bucket),
        xml(key)
    )))
}

async fn upload_part(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    id: &str,
    part: u32,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let dir = upload_dir(shared, bucket, id).await?;
    upload_key(&dir, key)?;
    let staged = dir.join(format!(".part-{part:05}-{}", uuid::Uuid::new_v4()));
    let (_, digest) = match receive_to_file(req, &staged).await {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    let etag = hex(&digest);
    let final_path = dir.join(format!("part-{part:05}-{etag}"));
    // A part uploaded again replaces the earlier one.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("part-{part:05}-"))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    std::fs::rename(&staged, &final_path)
        .map_err(|e| ApiError::internal(format!("{}: {e}", final_path.display())))?;
    let mut r = respond(200, "application/xml", Bytes::new());
    etag_header(&mut r, &etag);
    Ok(r)
}

async fn complete_multipart(
    shared: &Arc<Shared>,
    bucket: &str,
    key: &str,
    id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let dir = upload_dir(shared, bucket, id).await?;
    upload_key(&dir, key)?;
    let doc = small_body(req).await?;
    let mut parts = Vec::new();
    for p in elements(&doc, "Part") {
        let number: u32 = elements(p, "PartNumber")
            .first()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "MalformedXML",
                    "The XML you provided was not well-formed: a Part without a PartNumber",
                )
            })?;
        let etag = elements(p, "ETag")
            .first()
            .map(|e| unxml(e).trim().trim_matches('"').to_string())
            .unwrap_or_default();
        parts.push((number, etag));
    }
    if parts.is_empty() {
        return Err(ApiError::bad_request(
            "MalformedXML",
            "You must specify at least one part",
        ));
    }
    if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(ApiError::bad_request("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number."));
    }
    let mut files = Vec::new();
    for (i, (number, etag)) in parts.iter().enumerate() {
        let path = dir.join(format!("part-{number:05}-{etag}"));
        let meta = std::fs::metadata(&path).map_err(|_| {
            ApiError::bad_request("InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
        })?;
        if i + 1 < parts.len() && meta.len() < MIN_PART {
            return Err(ApiError::bad_request("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size (5 MiB for every part but the last)."));
        }
        files.push(path);
    }
    let mut digests = Vec::new();
    for (_, etag) in &parts {
        let raw = (0..16)
            .map(|i| {
                etag.get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| ApiError::bad_request("InvalidPart", "a part's ETag is not an MD5"))?;
        digests.extend(raw);
    }
    let etag = format!("{}-{}", super::protocol::md5_hex(&digests), parts.len());
    let staged = dir.join(format!(".object-{}", uuid::Uuid::new_v4()));
    let target = staged.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&target)?;
        for f in &files {
            std::io::copy(&mut std::fs::File::open(f)?, &mut out)?;
        }
        out.sync_all()
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("assembling the upload: {e}")))?;
    // Uploads begun before metadata was kept have no file: no metadata.
    let meta = std::fs::read(dir.join(UPLOAD_METADATA))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    commit(
        shared,
        bucket,
        key,
        staged,
        etag.clone(),
        CreatedReason::CompleteMultipartUpload,
        meta,
    )
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(xml_response(format!(
        "<CompleteMultipartUploadResult xmlns=\"{S3_XMLNS}\"><Location>/{0}/{1}</Location><Bucket>{0}</Bucket><Key>{1}</Key><ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>",
        xml(bucket),
        xml(key)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        let mut d = Chunked::Size(Vec::new());
        for p in pieces {
            d.feed(p, &mut |b| {
                out.extend_from_slice(b);
                Ok(())
            })?;
        }
        Ok(out)
    }

    #[test]
    fn aws_chunked_bodies_decode_however_they_are_split() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n";
        assert_eq!(decode_all(&[body]).expect("decode"), b"hello world");
        // Split at every position: the same bytes come out.
        for cut in 1..body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(
                decode_all(&[a, b]).expect("decode"),
                b"hello world",
                "cut {cut}"
            );
        }
        assert!(decode_all(&[b"zz\r\n"]).is_err());
    }

    #[test]
    fn ranges_are_parsed_like_http() {
        assert_eq!(parse_range("bytes=0-4", 10), Some((0, 4)));
        assert_eq!(parse_range("bytes=6-", 10), Some((6, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }

    #[test]
    fn keys_and_buckets_come_from_path_or_host() {
        let req = |host: &str, path: &str| {
            Request::builder()
                .uri(path)
                .header("host", host)
                .body(())
                .expect("request")
        };
        assert_eq!(
            bucket_and_key(&req("127.0.0.1:4566", "/media/a%20b/c.txt")),
            ("media".to_string(), "a b/c.txt".to_string())
        );
        assert_eq!(
            bucket_and_key(&req("media.localhost:4566", "/a%2Bb")),
            ("media".to_string(), "a+b".to_string())
        );
        assert_eq!(
            bucket_and_key(&req("localhost:4566", "/media")),
            ("media".to_string(), String::new())
        );
        assert_eq!(url_encode("a b+c/ü"), "a%20b%2Bc/%C3%BC");
    }
}
