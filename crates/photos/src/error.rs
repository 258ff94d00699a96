//! Why a photo was refused.

/// Why an uploaded photo was refused.
///
/// The `Display` text is short Chinese a participant can act on; [`PhotoError::code`] is the
/// stable machine-readable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// The upload is larger than [`Limits::max_upload_bytes`](crate::Limits::max_upload_bytes).
    #[error("照片文件过大（不能超过 {}），请压缩后重新上传", human_size(.max_bytes))]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        max_bytes: usize,
    },
    /// Not a JPEG or PNG file (judged by its magic bytes).
    #[error("照片格式不支持，请上传 JPG 或 PNG 格式的照片")]
    UnsupportedFormat,
    /// The header claims more pixels (or a longer side) than allowed.
    #[error("照片分辨率过高（{width}×{height} 像素），请缩小后重新上传")]
    TooManyPixels {
        /// Width claimed by the header.
        width: u32,
        /// Height claimed by the header.
        height: u32,
    },
    /// Smaller than 295 × 413 pixels (after EXIF orientation); photos are never upscaled.
    #[error("照片尺寸过小（{width}×{height} 像素），至少需要 295×413 像素")]
    TooSmall {
        /// Width after orientation.
        width: u32,
        /// Height after orientation.
        height: u32,
    },
    /// Too far from 5:7 and cannot be centre-cropped without cutting into the subject.
    #[error(
        "照片宽高比不符合一寸照要求（{width}×{height}），请按 5:7 比例（如 295×413）拍摄或裁剪，人像居中、四周留出白色背景"
    )]
    WrongAspectRatio {
        /// Width after orientation.
        width: u32,
        /// Height after orientation.
        height: u32,
    },
    /// The border (top, upper left and upper right) is not a bright, unsaturated background.
    #[error("照片背景不是白色，请在白色背景前重新拍摄，人像居中、四周留白")]
    BackgroundNotWhite,
    /// The file could not be decoded (truncated or damaged).
    #[error("照片文件已损坏或不完整，请重新上传")]
    Corrupt,
    /// Even at the lowest JPEG quality tried the result is not below 100 KB.
    #[error("照片无法压缩到 100 KB 以内，请换一张背景更简洁的照片")]
    CannotCompress,
}

impl PhotoError {
    /// Stable machine-readable code (e.g. `photo_too_small`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "photo_too_large",
            Self::UnsupportedFormat => "photo_unsupported_format",
            Self::TooManyPixels { .. } => "photo_too_many_pixels",
            Self::TooSmall { .. } => "photo_too_small",
            Self::WrongAspectRatio { .. } => "photo_wrong_aspect_ratio",
            Self::BackgroundNotWhite => "photo_background_not_white",
            Self::Corrupt => "photo_corrupt",
            Self::CannotCompress => "photo_cannot_compress",
        }
    }
}

/// `10 MB`, `512 KB`, `100 字节`: a size for a participant-facing message.
fn human_size(bytes: &usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    let bytes = *bytes;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KB", bytes / KIB)
    } else {
        format!("{bytes} 字节")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_chinese_and_codes_stable() {
        let e = PhotoError::TooLarge { max_bytes: 10 * 1024 * 1024 };
        assert_eq!(e.to_string(), "照片文件过大（不能超过 10 MB），请压缩后重新上传");
        assert_eq!(e.code(), "photo_too_large");
        let e = PhotoError::TooSmall { width: 200, height: 300 };
        assert!(e.to_string().contains("至少需要 295×413 像素"));
        assert!(e.to_string().contains("200×300"));
        assert_eq!(e.code(), "photo_too_small");
        assert_eq!(PhotoError::Corrupt.code(), "photo_corrupt");
        assert_eq!(PhotoError::BackgroundNotWhite.code(), "photo_background_not_white");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(&(10 * 1024 * 1024)), "10 MB");
        assert_eq!(human_size(&(1024 * 1024 + 512 * 1024)), "1.5 MB");
        assert_eq!(human_size(&2048), "2 KB");
        assert_eq!(human_size(&10), "10 字节");
    }
}
