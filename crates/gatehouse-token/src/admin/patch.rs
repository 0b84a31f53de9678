//! `PATCH` bodies: an array is an RFC 6902 JSON Patch (what Hydra's client API takes), an object
//! is an RFC 7396 merge patch (the natural `{"disabled": true}`). The patch is applied to the
//! resource's JSON representation and the result then goes through the same parsing and
//! validation as a `PUT`, so a patch can never store what a full replacement could not.

use serde_json::Value;

use super::ApiError;

pub fn apply(document: &mut Value, patch: Value) -> Result<(), ApiError> {
    match patch {
        Value::Array(_) => {
            let operations: json_patch::Patch = serde_json::from_value(patch).map_err(|e| {
                ApiError::invalid_request(format!("not a valid JSON Patch (RFC 6902): {e}"))
            })?;
            json_patch::patch(document, &operations).map_err(|e| {
                ApiError::invalid_request(format!("the JSON Patch cannot be applied: {e}"))
            })
        }
        Value::Object(_) => {
            json_patch::merge(document, &patch);
            Ok(())
        }
        _ => Err(ApiError::invalid_request(
            "the body must be a JSON Patch array (RFC 6902) or a merge-patch object (RFC 7396)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_and_merge_patch_both_apply() {
        let mut doc = json!({"client_name": "a", "contacts": ["x"]});
        let ops = json!([{"op": "replace", "path": "/client_name", "value": "b"}, {"op": "add", "path": "/contacts/-", "value": "y"}]);
        assert!(apply(&mut doc, ops).is_ok());
        assert_eq!(doc, json!({"client_name": "b", "contacts": ["x", "y"]}));
        assert!(apply(&mut doc, json!({"client_name": null, "skip_consent": true})).is_ok());
        assert_eq!(doc, json!({"contacts": ["x", "y"], "skip_consent": true}));
    }

    #[test]
    fn failed_test_operation_changes_nothing() {
        let mut doc = json!({"client_name": "a"});
        let ops = json!([{"op": "replace", "path": "/client_name", "value": "b"}, {"op": "test", "path": "/client_name", "value": "zzz"}]);
        assert!(apply(&mut doc, ops).is_err());
        assert_eq!(doc, json!({"client_name": "a"}));
    }

    #[test]
    fn scalars_and_bad_operations_are_refused() {
        let mut doc = json!({});
        assert!(apply(&mut doc, json!("x")).is_err());
        assert!(apply(&mut doc, json!([{"op": "frobnicate", "path": "/a"}])).is_err());
    }
}
