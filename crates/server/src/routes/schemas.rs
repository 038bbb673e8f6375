//! Schemas of request fields whose allowed values are known only at run time (the kinds of
//! email, webhook events, the roles an organisation's user may have), used with
//! `#[schema(schema_with = …)]`, so the document lists exactly what the server accepts.

use ladder_core::Role;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Array, Object};

fn one_of(names: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
}

/// A role a user of an organisation may be given: platform support belongs to the platform.
pub fn organisation_role() -> Object {
    one_of(
        Role::names()
            .into_iter()
            .filter(|r| *r != Role::PlatformSupport.as_str()),
    )
    .description(Some(
        "The user's role in the organisation (platform support is not one).",
    ))
    .build()
}

/// Kinds of email a person or the organisation's customers may turn off.
pub fn emailed_kinds() -> Array {
    ArrayBuilder::new()
        .items(one_of(crate::flows::webhooks::emailed_kinds()))
        .description(Some(
            "The kinds of email not sent (`sla_reminder`, `escalation_resolved`…).",
        ))
        .build()
}

/// The events a webhook may be sent: at least one.
pub fn webhook_events() -> Array {
    ArrayBuilder::new()
        .items(one_of(crate::notify::render::EVENTS))
        .min_items(Some(1))
        .description(Some("The events sent there."))
        .build()
}
