//! CBOR bodies (§2.1) as the JSON values the mapping reads and writes; what CBOR can say and
//! JSON cannot is refused.

use serde_json::{Map, Number, Value};

use crate::rest_error::RestError;

/// One CBOR item, nothing after it; the error is the detail of a parse error.
pub(super) fn cbor_to_json(body: &[u8]) -> Result<Value, String> {
    let mut rest = body;
    let value: ciborium::Value = ciborium::from_reader(&mut rest).map_err(|err| err.to_string())?;
    if !rest.is_empty() {
        return Err("data after the CBOR item".to_owned());
    }
    cbor_value_to_json(value).map_err(str::to_owned)
}

/// CBOR's data model is wider than JSON's: byte strings, non-text map keys, non-finite floats
/// and integers beyond 64 bits are refused; tags are looked through.
fn cbor_value_to_json(value: ciborium::Value) -> Result<Value, &'static str> {
    use ciborium::Value as Cbor;
    Ok(match value {
        Cbor::Integer(integer) => {
            let integer = i128::from(integer);
            if let Ok(small) = i64::try_from(integer) {
                small.into()
            } else {
                u64::try_from(integer)
                    .map_err(|_| "integer out of range")?
                    .into()
            }
        }
        Cbor::Float(float) => Number::from_f64(float)
            .map(Value::Number)
            .ok_or("non-finite number")?,
        Cbor::Text(text) => text.into(),
        Cbor::Bool(flag) => flag.into(),
        Cbor::Null => Value::Null,
        Cbor::Tag(_, inner) => cbor_value_to_json(*inner)?,
        Cbor::Array(items) => items
            .into_iter()
            .map(cbor_value_to_json)
            .collect::<Result<Vec<_>, _>>()?
            .into(),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return Err("map keys must be text");
                };
                map.insert(key, cbor_value_to_json(value)?);
            }
            map.into()
        }
        Cbor::Bytes(_) => return Err("byte strings have no JSON equivalent"),
        _ => return Err("unsupported CBOR value"),
    })
}

pub(super) fn to_cbor(value: &Value) -> Result<Vec<u8>, RestError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|_| RestError::Internal)?;
    Ok(out)
}
