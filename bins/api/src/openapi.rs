//! The OpenAPI 3 document, generated from the handlers' annotations; its path list is the
//! route table ([`crate::routes::ApiDoc`]).

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

pub use crate::routes::ApiDoc;

/// Declares the participant's bearer token.
#[derive(Debug)]
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// A body of raw bytes (an image, a PDF, a workbook), whose media type is the content type it
/// is declared with: a `string` of format `binary` in the document.
#[derive(Debug)]
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// Declares on every operation the error answers that do not come from its handler but from
/// the framework around it (an operation's own declaration, when it has one, is kept):
///
/// - 400 `bad_json` (a JSON body that does not parse or has the wrong shape) or
///   `bad_multipart` (an upload that is not a readable form), on operations with a body;
/// - 400 `bad_query`, on operations with query parameters;
/// - 404 `not_found`, on operations with path parameters (a malformed id finds nothing);
/// - 500 `internal` and 503 `database_unavailable` (the database pool is exhausted or
///   unreachable), on every operation but `/healthz`, which touches nothing.
///
/// Every one of them is an [`crate::error::ErrorBody`].
#[derive(Debug)]
pub struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                add_common_responses(path, operation);
            }
        }
    }
}

fn add_common_responses(path: &str, operation: &mut Operation) {
    let body_kinds: Vec<&'static str> = match &operation.request_body {
        Some(RefOr::T(body)) => body
            .content
            .keys()
            .filter_map(|media| match media.as_str() {
                "application/json" => Some("`bad_json`"),
                m if m.starts_with("multipart/") => Some("`bad_multipart`"),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let has = |kind: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == kind,
            RefOr::Ref(_) => false,
        })
    };
    let (has_query, has_path) = (has(ParameterIn::Query), has(ParameterIn::Path));
    let mut bad_request =
        body_kinds.iter().map(|k| format!("a malformed request body ({k})")).collect::<Vec<_>>();
    if has_query {
        bad_request.push("malformed query parameters (`bad_query`)".to_owned());
    }
    if !bad_request.is_empty() {
        declare(operation, "400", &bad_request.join("; "));
    }
    if has_path {
        declare(operation, "404", "no such record, or a malformed id (`not_found`)");
    }
    if path != "/healthz" {
        declare(operation, "500", "an unexpected fault, logged with the request id (`internal`)");
        declare(
            operation,
            "503",
            "the database is busy or unreachable (`database_unavailable`); try again later",
        );
    }
}

/// Adds a response with an [`crate::error::ErrorBody`] unless the operation declares `status`.
fn declare(operation: &mut Operation, status: &str, description: &str) {
    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
    });
}

/// This document, as JSON.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query parameter declared as a path parameter (utoipa's default for `IntoParams`)
    /// cannot be sent by a client that reads the document; every answer but a 204 declares its
    /// body; the framework's faults are declared on every operation.
    #[test]
    fn parameters_sit_where_they_are_read_and_faults_are_declared() {
        let doc = ApiDoc::openapi();
        let mut operations = 0;
        for (path, item) in &doc.paths.paths {
            let all = [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
            ];
            for (method, operation) in all {
                let Some(operation) = operation else { continue };
                operations += 1;
                for parameter in operation.parameters.iter().flatten() {
                    let RefOr::T(parameter) = parameter else { continue };
                    let in_template = path.contains(&format!("{{{}}}", parameter.name));
                    assert_eq!(
                        parameter.parameter_in == ParameterIn::Path,
                        in_template,
                        "{method} {path}: parameter `{}`",
                        parameter.name
                    );
                }
                for (status, response) in &operation.responses.responses {
                    if let RefOr::T(response) = response {
                        assert!(
                            status == "204" || !response.content.is_empty(),
                            "{method} {path}: {status} declares no body"
                        );
                    }
                }
                let declared = |status: &str| operation.responses.responses.contains_key(status);
                if path != "/healthz" {
                    assert!(declared("500") && declared("503"), "{method} {path}");
                }
                if operation.request_body.is_some() && path != "/api/v1/admin/invoices/import" {
                    assert!(declared("400"), "{method} {path}: a malformed body");
                }
            }
        }
        assert!(operations > 100, "{operations}");
    }

    /// utoipa names a schema by its type's last path segment, so two `ToSchema` types of the
    /// same name share one entry of `components/schemas` and one of them is described with the
    /// other's fields: every name (or `#[schema(as = …)]`) is unique in the crate.
    #[test]
    fn schema_names_are_unique() {
        let mut files = Vec::new();
        crate::error::catalogue_tests::rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut seen = std::collections::BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            let mut lines = text.lines().map(str::trim);
            while let Some(line) = lines.next() {
                if !(line.starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                let mut renamed = None;
                for next in lines.by_ref() {
                    if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                        renamed = rest.split(')').next().map(str::to_owned);
                    }
                    let item = next.strip_prefix("pub ").unwrap_or(next);
                    if let Some(rest) = item.strip_prefix("struct ").or(item.strip_prefix("enum "))
                    {
                        let name = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next();
                        let name = renamed.take().or(name.map(str::to_owned)).expect("name");
                        if let Some(other) = seen.insert(name.clone(), file.clone()) {
                            panic!(
                                "schema `{name}` in {} and {}: rename one with #[schema(as = …)]",
                                other.display(),
                                file.display()
                            );
                        }
                        break;
                    }
                }
            }
        }
        assert!(seen.len() > 50, "{}", seen.len());
    }
}
