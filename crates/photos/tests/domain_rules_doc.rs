//! `docs/domain-rules.md`'s section on the ID photo states the numbers the code uses.

use baoming_photos::{
    ASPECT_TOLERANCE_PERCENT, BACKGROUND_MAX_SPREAD, BACKGROUND_MIN_CHANNEL, BORDER_BAND_PERCENT,
    BORDER_MIN_BACKGROUND_PERCENT, CROP_STRIP_MIN_BACKGROUND_PERCENT, JPEG_QUALITY_MIN,
    JPEG_QUALITY_START, JPEG_QUALITY_STEP, Limits, MAX_OUTPUT_BYTES, OUTPUT_HEIGHT, OUTPUT_WIDTH,
    SHOULDER_ZONE_PERCENT,
};

const DOC: &str = include_str!("../../../docs/domain-rules.md");

#[test]
fn the_photo_section_states_the_codes_numbers() {
    let start = DOC.find("## The ID photo").expect("the photo section");
    let rest = &DOC[start..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |end| end + 3)];
    let text = section.split_whitespace().collect::<Vec<_>>().join(" ");
    let limits = Limits::default();
    assert_eq!(limits.max_upload_bytes % (1024 * 1024), 0);
    assert_eq!(limits.max_pixels % 1_000_000, 0);
    assert_eq!(SHOULDER_ZONE_PERCENT, 25, "the document says \"the bottom quarter\"");
    let expected = [
        format!("larger than {} MiB", limits.max_upload_bytes / (1024 * 1024)),
        format!("more than {} million pixels", limits.max_pixels / 1_000_000),
        format!(
            "a side over {},{:03} pixels",
            limits.max_dimension / 1000,
            limits.max_dimension % 1000
        ),
        format!("smaller than {OUTPUT_WIDTH} × {OUTPUT_HEIGHT} pixels"),
        format!("more than {ASPECT_TOLERANCE_PERCENT} % away from the 5:7 ratio"),
        format!("at least {CROP_STRIP_MIN_BACKGROUND_PERCENT} % background"),
        format!("({BORDER_BAND_PERCENT} % of the picture each"),
        "leaving out the bottom quarter".to_owned(),
        format!("at least {BORDER_MIN_BACKGROUND_PERCENT} % pixels"),
        format!("(every channel ≥ {BACKGROUND_MIN_CHANNEL})"),
        format!("(channels within {BACKGROUND_MAX_SPREAD} of each other)"),
        format!("exactly **{OUTPUT_WIDTH} × {OUTPUT_HEIGHT}**"),
        format!("**under {} KB**", MAX_OUTPUT_BYTES / 1024),
        format!(
            "(quality lowered from {JPEG_QUALITY_START} in steps of {JPEG_QUALITY_STEP}, down to {JPEG_QUALITY_MIN})"
        ),
    ];
    for phrase in expected {
        assert!(text.contains(&phrase), "docs/domain-rules.md should say {phrase:?}");
    }
}
