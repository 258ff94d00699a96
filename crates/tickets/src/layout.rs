//! What goes on a ticket and on a room's sign-in sheet: plain values, no database types.
//!
//! A [`TicketLayout`] holds what is the same for every ticket of a period (title, rules); a
//! [`Ticket`] what is particular to one person. Both renderers ([`render_png`](crate::render_png)
//! and [`render_pdf`](crate::render_pdf)) draw from the same description.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Timelike as _, Utc};

/// The parts of a ticket shared by a period's tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLayout {
    /// The title, e.g. `2026年第二期监理工程师培训考试 准考证`; wrapped onto two lines at a space
    /// when too long for one.
    pub title: String,
    /// The rules for the exam room (考场规则), one entry per rule, without numbering (the
    /// renderer numbers them).
    pub rules: Vec<String>,
    /// An optional line at the foot of the ticket, e.g. the issuing body and date.
    pub footer: Option<String>,
    /// When the tickets were issued: the PDF's creation date (the Unix epoch when `None`).
    pub issued_at: Option<DateTime<Utc>>,
}

impl TicketLayout {
    /// A layout with the given title, [`default_rules`], no footer and no issue date.
    #[must_use]
    pub fn new(title: &str) -> Self {
        Self { title: title.to_owned(), rules: default_rules(), footer: None, issued_at: None }
    }
}

/// A plain set of exam-room rules (考场规则) to start from.
#[must_use]
pub fn default_rules() -> Vec<String> {
    [
        "考生须凭准考证和有效身份证件进入考场，对号入座，并将两证放在桌面左上角。",
        "开考30分钟后不得入场，考试结束前30分钟内不得交卷离场。",
        "除规定的文具外，不得携带手机、智能手表等电子设备和资料进入座位。",
        "保持考场安静，不得交头接耳、左顾右盼，不得抄袭或协助他人作弊。",
        "考试结束铃响，立即停止答题，待监考人员收齐试卷后方可离开。",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// One subject of a ticket and when it is sat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectSlot {
    /// The subject, e.g. `建设工程监理基本理论和相关法规`.
    pub name: String,
    /// When, as shown, e.g. `2026年12月20日 09:00–11:30` (see [`SubjectSlot::format_time`]).
    pub time: String,
}

impl SubjectSlot {
    /// A slot whose time is formatted from a start and an end (local exam time) by
    /// [`SubjectSlot::format_time`].
    #[must_use]
    pub fn new(name: &str, start: NaiveDateTime, end: NaiveDateTime) -> Self {
        Self { name: name.to_owned(), time: Self::format_time(start, end) }
    }

    /// `2026年12月20日 09:00–11:30`; when the end falls on another day,
    /// `2026年12月20日 22:00–2026年12月21日 01:00`.
    ///
    /// ```
    /// use baoming_tickets::SubjectSlot;
    /// use chrono::NaiveDate;
    /// let day = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap();
    /// let t = SubjectSlot::format_time(day.and_hms_opt(9, 0, 0).unwrap(), day.and_hms_opt(11, 30, 0).unwrap());
    /// assert_eq!(t, "2026年12月20日 09:00–11:30");
    /// ```
    #[must_use]
    pub fn format_time(start: NaiveDateTime, end: NaiveDateTime) -> String {
        let date = |t: NaiveDateTime| t.format("%Y年%m月%d日").to_string();
        let hm = |t: NaiveDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
        if start.date() == end.date() {
            format!("{} {}–{}", date(start), hm(start), hm(end))
        } else {
            format!("{} {}–{} {}", date(start), hm(start), date(end), hm(end))
        }
    }
}

/// One person's ticket.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Full name (shown in full; the QR payload may cut it).
    pub name: String,
    /// Gender as shown, e.g. `男`/`女`.
    pub gender: String,
    /// The masked ID number, e.g. `110105********002X`.
    pub masked_id: String,
    /// The ticket number.
    pub ticket_number: String,
    /// The site (考点) name.
    pub site_name: String,
    /// The site's address.
    pub site_address: String,
    /// Room number (考场).
    pub room: u32,
    /// Seat number (座号).
    pub seat: u32,
    /// Subjects with their times, in the order shown.
    pub subjects: Vec<SubjectSlot>,
    /// The normalised ID photo (JPEG, 295 × 413 px, RGB or greyscale).
    pub photo_jpeg: Vec<u8>,
    /// The QR text (from [`sign`](crate::signing::sign)).
    pub qr_text: String,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("ticket_number", &self.ticket_number)
            .field("room", &self.room)
            .field("seat", &self.seat)
            .field("subjects", &self.subjects.len())
            .field("photo_jpeg", &self.photo_jpeg.len())
            .finish_non_exhaustive()
    }
}

/// A room's sign-in sheet (考场签到表) for the invigilators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSheet {
    /// The title, e.g. `2026年第二期监理工程师培训考试 考场签到表`.
    pub title: String,
    /// The site name.
    pub site_name: String,
    /// The room number.
    pub room: u32,
    /// One row per seat taken, in the order shown (usually by seat).
    pub rows: Vec<SheetRow>,
    /// When the sheet was made: the PDF's creation date (the Unix epoch when `None`).
    pub issued_at: Option<DateTime<Utc>>,
}

/// One row of a [`RoomSheet`].
#[derive(Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// Seat number.
    pub seat: u32,
    /// Ticket number.
    pub ticket_number: String,
    /// Full name.
    pub name: String,
    /// The masked ID number.
    pub masked_id: String,
    /// The normalised ID photo (JPEG).
    pub photo_jpeg: Vec<u8>,
}

impl fmt::Debug for SheetRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SheetRow")
            .field("seat", &self.seat)
            .field("ticket_number", &self.ticket_number)
            .field("photo_jpeg", &self.photo_jpeg.len())
            .finish_non_exhaustive()
    }
}
