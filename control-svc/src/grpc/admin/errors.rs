//! Errors as gRPC clients expect them: the code from `ControlError`'s one mapping table, and for
//! INVALID_ARGUMENT a `google.rpc.BadRequest` detail naming the field.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::ControlError;

/// INVALID_ARGUMENT about `field` (a path such as `page.page_size`).
pub fn invalid(field: &str, message: &str) -> Status {
    Status::with_error_details(Code::InvalidArgument, message, ErrorDetails::with_bad_request_violation(field, message))
}

/// FAILED_PRECONDITION: the request is well formed but the target's state does not allow it.
pub fn precondition(message: impl Into<String>) -> Status {
    Status::failed_precondition(message)
}

/// A shared core's error. The cores' `BadRequest` messages open with the field they are about ("remain_quota must
/// not be negative"); that word becomes the detail's field when the request has such a field.
pub fn from_core(error: ControlError, fields: &[&str]) -> Status {
    match error {
        ControlError::BadRequest(message) => {
            let first = message.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
            let field = fields.iter().find(|f| **f == first).copied().unwrap_or("request");
            invalid(field, &message)
        }
        other => other.into(),
    }
}
