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

/// Reads the `photo` field, refusing more than `limit` bytes as soon as they arrive.
async fn read_photo(mut form: Multipart, limit: usize) -> Result<Vec<u8>, ApiError> {
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
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_request("bad_multipart", "上传格式不正确"))?;
            if bytes.len() + chunk.len() > limit {
                return Err(PhotoError::TooLarge { max_bytes: limit }.into());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(bytes);
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
    let bytes = read_photo(form, state.photo_limits.max_upload_bytes).await?;
    // One decode per permit: a burst of uploads waits here instead of holding many
    // full-size images in memory at once.
    let permit =
        state.decode_permits.clone().acquire_owned().await.map_err(|e| ApiError::internal(&e))?;
    let limits = state.photo_limits;
    let (bytes, processed) = web::block(move || {
        let processed = baoming_photos::process(&bytes, &limits);
        drop(permit);
        (bytes, processed)
    })
    .await?;
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
    state.db(move |conn| photos::insert(conn, &new, chrono::Utc::now())).await?;
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
