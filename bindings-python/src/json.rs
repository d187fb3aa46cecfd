//! A JSON value built by the generated Python model (`shape._to_payload()`: dicts, lists, str, int, float,
//! bool, None), written as JSON text. The same as `json.dumps` for those values, without the Python encoder's
//! per-call cost on the hot path (a publish). It knows JSON, not the model.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Nesting deeper than this is refused (the model's shapes nest a few levels; documents may nest more).
const MAX_DEPTH: usize = 128;

pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, obj, 0)?;
    Ok(out)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's string escaping; writing to a Vec cannot fail
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err("JSON value nested too deeply"));
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast::<PyString>() {
        write_str(out, &s.to_cow()?);
    } else if let Ok(d) = obj.cast::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match k.cast::<PyString>() {
                Ok(k) => write_str(out, &k.to_cow()?),
                Err(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "JSON object keys must be str, got {}",
                        k.get_type().name()?
                    )))
                }
            }
            out.push(b':');
            write(out, &v, depth + 1)?;
        }
        out.push(b'}');
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(n) => out.extend_from_slice(n.to_string().as_bytes()),
            // a big integer: its decimal text, as json.dumps writes it
            Err(_) => out.extend_from_slice(obj.str()?.to_cow()?.as_bytes()),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(PyValueError::new_err(format!(
                "JSON has no value for the float {v}"
            )));
        }
        let _ = serde_json::to_writer(&mut *out, &v);
    } else if let Ok(l) = obj.cast::<PyList>() {
        out.push(b'[');
        for (i, v) in l.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(out, &v, depth + 1)?;
        }
        out.push(b']');
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        out.push(b'[');
        for (i, v) in t.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(out, &v, depth + 1)?;
        }
        out.push(b']');
    } else {
        return Err(PyTypeError::new_err(format!(
            "Object of type {} is not JSON serializable",
            obj.get_type().name()?
        )));
    }
    Ok(())
}
