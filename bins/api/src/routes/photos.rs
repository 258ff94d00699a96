//! The ID photo (一寸白底免冠照): upload, checked and normalised; served only to its owner.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, http::header, web};
use baoming_domain::ids::PhotoId;
use baoming_photos::PhotoError;
use baoming_store::photos::{self, NewPhoto};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::path_id;
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::Action;
use crate::state::AppState;

/// An accepted photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    /// Id (send it as `photo_id` with the registration).
    pub id: String,
    /// Width of the upload.
    pub original_width: u32,
    /// Height of the upload.
    pub original_height: u32,
}

/// The upload form: one file field named `photo`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PhotoUpload {
    /// JPEG or PNG, at least 295 × 413 px, white background.
    #[schema(value_type = String, format = Binary)]
    pub photo: Vec<u8>,
}

/// Bytes of an upload kept in memory before it goes to a temporary file (the header that
/// [`baoming_photos::decode_cost`] reads is in them).
const SPOOL_AFTER: usize = 256 * 1024;

/// An upload as received: its first bytes, and the rest in an unnamed temporary file (deleted
/// when closed), so that uploads waiting for a decode hold almost no memory.
struct Received {
    head: Vec<u8>,
    rest: Option<std::fs::File>,
    len: usize,
}

impl Received {
    /// The whole upload in memory (read back from its file on the blocking pool).
    fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let Some(mut file) = self.rest else {
            return Ok(self.head);
        };
        let mut bytes = Vec::with_capacity(self.len);
        bytes.extend_from_slice(&self.head);
        drop(self.head);
        file.seek(std::io::SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Appends `buf` to the temporary file (created in `dir` on the first call), on the blocking
/// pool; the emptied buffer comes back for the next chunks.
async fn spool(
    file: &mut Option<std::fs::File>,
    dir: &std::path::Path,
    buf: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    let existing = file.as_ref().map(std::fs::File::try_clone).transpose();
    let existing = existing.map_err(|e| ApiError::internal(&e))?;
    let dir = dir.to_path_buf();
    let (written, mut buf) = web::block(move || {
        let file = match existing {
            Some(file) => Ok(file),
            None => std::fs::create_dir_all(&dir).and_then(|()| tempfile::tempfile_in(&dir)),
        };
        let written = file.and_then(|mut f| f.write_all(&buf).map(|()| f));
        (written, buf)
    })
    .await?;
    let written = written.map_err(|e| ApiError::internal(&e))?;
    if file.is_none() {
        *file = Some(written);
    }
    buf.clear();
    Ok(buf)
}

/// Reads the `photo` field, refusing more than `limit` bytes as soon as they arrive; all but
/// the first [`SPOOL_AFTER`] bytes go to a temporary file in `dir`.
async fn read_photo(
    mut form: Multipart,
    limit: usize,
    dir: &std::path::Path,
) -> Result<Received, ApiError> {
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|_| ApiError::bad_request("bad_multipart", "上传格式不正确"))?;
        if field.name() != Some("photo") {
            // Drain and ignore other fields.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|_| ApiError::bad_request("bad_multipart", "上传格式不正确"))?;
            }
            continue;
        }
        let mut head = Vec::new();
        let mut rest = None;
        let mut pending = Vec::new();
        let mut len = 0;
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_request("bad_multipart", "上传格式不正确"))?;
            if len + chunk.len() > limit {
                return Err(PhotoError::TooLarge { max_bytes: limit }.into());
            }
            len += chunk.len();
            let into_head = SPOOL_AFTER.saturating_sub(head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..into_head]);
            pending.extend_from_slice(&chunk[into_head..]);
            if pending.len() >= SPOOL_AFTER {
                pending = spool(&mut rest, dir, pending).await?;
            }
        }
        if !pending.is_empty() {
            spool(&mut rest, dir, pending).await?;
        }
        return Ok(Received { head, rest, len });
    }
    Err(ApiError::field("photo", "photo_missing", "请选择照片文件"))
}

/// Uploads an ID photo (multipart field `photo`). It is checked (format, at least 295 × 413,
/// 5:7 or centre-croppable, white border, size and pixel limits) and stored with a
/// normalised 295 × 413 JPEG.
#[utoipa::path(
    post,
    path = "/api/v1/photos",
    tag = "photos",
    security(("bearer" = [])),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = PhotoView),
        (status = 401, body = ErrorBody),
        (status = 413, description = "file too large", body = ErrorBody),
        (status = 415, description = "not a JPEG or PNG", body = ErrorBody),
        (status = 422, description = "too small, wrong ratio, background not white, too many pixels", body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    state.limits.check(Action::PhotoUpload, Some(&me.id), &req)?;
    let limits = state.photo_limits;
    let received = read_photo(form, limits.max_upload_bytes, &state.photo_spool).await?;
    // A burst of uploads waits here, on disk, instead of holding many full-size images in
    // memory at once: at most `max_concurrent_decodes` decodes, whose estimated memory (from
    // the header) together stays within `decode_memory_mib` (a larger one runs alone).
    let cost = baoming_photos::decode_cost(&received.head, received.len, &limits);
    let budget = state.decode_memory_mib;
    let mib = u32::try_from(cost.div_ceil(1024 * 1024)).unwrap_or(u32::MAX).clamp(1, budget);
    let permit =
        state.decode_permits.clone().acquire_owned().await.map_err(|e| ApiError::internal(&e))?;
    let memory = state
        .decode_memory
        .clone()
        .acquire_many_owned(mib)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let (bytes, processed) = web::block(move || {
        let bytes = received.into_bytes()?;
        let processed = baoming_photos::process(&bytes, &limits);
        drop((permit, memory));
        Ok::<_, std::io::Error>((bytes, processed))
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    let processed = processed?;
    let id: PhotoId = baoming_store::new_id();
    let base = format!("photos/{}/{id}", me.id);
    let new = NewPhoto {
        id,
        participant: me.id,
        original_key: format!("{base}/original.{}", processed.original_format.extension()),
        normalized_key: format!("{base}/normalized.jpg"),
        original_bytes: bytes.len() as u64,
        width: processed.original_width,
        height: processed.original_height,
    };
    let storage = state.photos.clone();
    let (original_key, normalized_key) = (new.original_key.clone(), new.normalized_key.clone());
    web::block(move || {
        storage.put(&original_key, &bytes)?;
        storage.put(&normalized_key, &processed.normalized_jpeg)
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    let (width, height) = (new.width, new.height);
    state.write(move |conn| photos::insert(conn, &new, chrono::Utc::now())).await?;
    Ok(HttpResponse::Created().json(PhotoView {
        id: id.to_string(),
        original_width: width,
        original_height: height,
    }))
}

/// The normalised 295 × 413 JPEG of one of the caller's photos.
#[utoipa::path(
    get,
    path = "/api/v1/photos/{id}",
    tag = "photos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "photo id")),
    responses(
        (status = 200, content_type = "image/jpeg", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: PhotoId = path_id(&id)?;
    let photo = state.db(move |conn| photos::get(conn, id)).await?;
    if photo.participant != me.id {
        return Err(ApiError::not_found());
    }
    normalized_jpeg(&state, photo, "private, max-age=3600").await
}

/// The normalised JPEG of a stored photo as a response (callers check who may see it).
pub async fn normalized_jpeg(
    state: &AppState,
    photo: photos::StoredPhoto,
    cache_control: &'static str,
) -> Result<HttpResponse, ApiError> {
    let storage = state.photos.clone();
    let bytes = web::block(move || storage.get(&photo.normalized_key))
        .await?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/jpeg"))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(bytes))
}
