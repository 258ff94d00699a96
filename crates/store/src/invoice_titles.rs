//! A participant's saved invoice titles (发票抬头).

use baoming_domain::ids::{InvoiceTitleId, ParticipantId};
use baoming_invoicing::{InvoiceTitle, InvoiceTitleInput, InvoiceType, TitleKind};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::invoice_titles as t;
use crate::sql;

/// A saved title.
#[derive(Debug, Clone)]
pub struct SavedTitle {
    /// Id.
    pub id: InvoiceTitleId,
    /// The checked title.
    pub title: InvoiceTitle,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct Row {
    id: String,
    kind: String,
    invoice_type: String,
    name: String,
    tax_id: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    bank: Option<String>,
    bank_account: Option<String>,
    email: Option<String>,
}

fn from_row(row: Row) -> Result<SavedTitle, StoreError> {
    let Row { id, kind, invoice_type, name, tax_id, address, phone, bank, bank_account, email } =
        row;
    let input = InvoiceTitleInput {
        kind: TitleKind::parse(&kind).map_err(|_| StoreError::corrupt("invoice title kind"))?,
        invoice_type: InvoiceType::parse(&invoice_type)
            .map_err(|_| StoreError::corrupt("invoice type"))?,
        name,
        tax_id,
        address,
        phone,
        bank,
        bank_account,
        email,
    };
    // Stored titles were checked when saved; a failure here means the row was tampered with.
    let (title, _) =
        InvoiceTitle::parse(&input).map_err(|_| StoreError::corrupt("invoice title"))?;
    Ok(SavedTitle { id: sql::id(&id)?, title })
}

/// The columns of a title (the same for creating and replacing it).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = t, treat_none_as_null = true)]
struct TitleColumns<'a> {
    kind: &'a str,
    invoice_type: &'a str,
    name: &'a str,
    tax_id: Option<&'a str>,
    address: Option<&'a str>,
    phone: Option<&'a str>,
    bank: Option<&'a str>,
    bank_account: Option<&'a str>,
    email: Option<&'a str>,
}

impl<'a> From<&'a InvoiceTitle> for TitleColumns<'a> {
    fn from(title: &'a InvoiceTitle) -> Self {
        TitleColumns {
            kind: title.kind().as_str(),
            invoice_type: title.invoice_type().as_str(),
            name: title.name(),
            tax_id: title.tax_id().map(|x| x.as_str()),
            address: title.address(),
            phone: title.phone(),
            bank: title.bank(),
            bank_account: title.bank_account(),
            email: title.email(),
        }
    }
}

/// A participant's titles, oldest first.
pub fn list(conn: &mut DbConnection, owner: ParticipantId) -> Result<Vec<SavedTitle>, StoreError> {
    t::table
        .filter(t::participant_id.eq(sql::text(owner)))
        .order(t::id)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// One of the participant's titles; someone else's is "not found".
pub fn get(
    conn: &mut DbConnection,
    owner: ParticipantId,
    id: InvoiceTitleId,
) -> Result<SavedTitle, StoreError> {
    t::table
        .find(sql::text(id))
        .filter(t::participant_id.eq(sql::text(owner)))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "invoice_title" })
        .and_then(from_row)
}

/// Saves a new title.
pub fn create(
    conn: &mut DbConnection,
    owner: ParticipantId,
    title: &InvoiceTitle,
    now: DateTime<Utc>,
) -> Result<SavedTitle, StoreError> {
    let id: InvoiceTitleId = crate::new_id();
    diesel::insert_into(t::table)
        .values((
            TitleColumns::from(title),
            t::id.eq(sql::text(id)),
            t::participant_id.eq(sql::text(owner)),
            t::created_at.eq(sql::ts(now)),
            t::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    get(conn, owner, id)
}

/// Replaces a title (registrations keep the snapshot they took).
pub fn update(
    conn: &mut DbConnection,
    owner: ParticipantId,
    id: InvoiceTitleId,
    title: &InvoiceTitle,
    now: DateTime<Utc>,
) -> Result<SavedTitle, StoreError> {
    let updated = diesel::update(t::table.find(sql::text(id)))
        .filter(t::participant_id.eq(sql::text(owner)))
        .set((TitleColumns::from(title), t::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound { entity: "invoice_title" });
    }
    get(conn, owner, id)
}

/// Deletes a title (registrations keep the snapshot they took).
pub fn delete(
    conn: &mut DbConnection,
    owner: ParticipantId,
    id: InvoiceTitleId,
) -> Result<(), StoreError> {
    let deleted = diesel::delete(t::table.find(sql::text(id)))
        .filter(t::participant_id.eq(sql::text(owner)))
        .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound { entity: "invoice_title" });
    }
    Ok(())
}
