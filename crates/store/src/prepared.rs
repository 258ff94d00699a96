//! Hot `UPDATE`s with one fixed SQL text each, which the connection keeps prepared.
//!
//! Diesel's query builder never keeps an `UPDATE` in a connection's statement cache: its
//! `UpdateStatement` marks itself unsafe to cache whatever its shape (an optional changeset
//! field may leave a column out), so every transition's status write was parsed and planned
//! again at each execution. The statements below are [`QueryFragment`]s of their own — Diesel's
//! documented way to extend its query builder — with a SQL text that never varies (a `None` is
//! written as `NULL`, never left out) and every value a bind parameter: Diesel caches each
//! statement by its type, per connection, on both backends.
//!
//! [`QueryFragment`]: diesel::query_builder::QueryFragment

/// Declares a statement: a struct of its bind values and its SQL as string pieces and
/// `{field: SqlType}` binds, written out for SQLite and PostgreSQL (each backend places its
/// own parameter markers). Run it on a backend's own connection (`db::on_backend!`) with
/// `RunQueryDsl::execute`.
macro_rules! fixed_statement {
    (
        $(#[$meta:meta])*
        struct $name:ident<$lt:lifetime> { $($field:ident: $ty:ty),* $(,)? }
        sql = [$($sql:tt)*];
    ) => {
        $(#[$meta])*
        pub(crate) struct $name<$lt> {
            $(pub(crate) $field: $ty,)*
        }

        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            // One SQL text per type: the statement cache may key it by the type alone.
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<Conn> diesel::RunQueryDsl<Conn> for $name<'_> {}

        $crate::prepared::fixed_statement!(@backend diesel::sqlite::Sqlite, $name, [$($sql)*]);
        $crate::prepared::fixed_statement!(@backend diesel::pg::Pg, $name, [$($sql)*]);
    };
    (@backend $db:ty, $name:ident, [$($sql:tt)*]) => {
        impl diesel::query_builder::QueryFragment<$db> for $name<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> diesel::QueryResult<()> {
                $crate::prepared::fixed_statement!(@walk out, self, $($sql)*);
                Ok(())
            }
        }
    };
    (@walk $out:ident, $s:ident,) => {};
    (@walk $out:ident, $s:ident, $piece:literal $($rest:tt)*) => {
        $out.push_sql($piece);
        $crate::prepared::fixed_statement!(@walk $out, $s, $($rest)*);
    };
    (@walk $out:ident, $s:ident, {$field:ident: $st:ty} $($rest:tt)*) => {
        $out.push_bind_param::<$st, _>(&$s.$field)?;
        $crate::prepared::fixed_statement!(@walk $out, $s, $($rest)*);
    };
}
pub(crate) use fixed_statement;
