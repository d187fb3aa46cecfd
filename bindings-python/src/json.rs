//! JSON between the generated Python model and the wire.
//!
//! Writing: a JSON value built by the model (`shape._to_payload()`: dicts, lists, str, int, float, bool,
//! None, and [`Blob`] for a blob member) as JSON text. The same as `json.dumps` for those values, without the
//! Python encoder's per-call cost on the hot path (a publish); a blob is written as its base64 string with
//! the core's encoder, straight into the body.
//!
//! Reading: a stream event's JSON body as the value `json.loads` gives, except that the blob members its
//! shape's layout names (`ggipc::model::layout`) are `bytes`, decoded here; documents are read by Python's
//! `json.loads`, so that they are exactly what Python makes of JSON.

use ggipc::model::Layout;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// `_ggipc.Blob(value)`: a blob member of a request, as the model puts it in the JSON value it builds: the
/// bytes of `value` (`bytes`; `str`, encoded as UTF-8; or any other bytes-like object, copied), written as
/// base64 by the JSON writer. Anything else is refused with the `TypeError` `binascii` gives.
#[pyclass(module = "ggipc._ggipc", frozen)]
pub struct Blob(Py<PyBytes>);

#[pymethods]
impl Blob {
    #[new]
    fn new(value: &Bound<'_, PyAny>) -> PyResult<Blob> {
        if let Ok(b) = value.cast::<PyBytes>() {
            return Ok(Blob(b.clone().unbind()));
        }
        if let Ok(s) = value.cast::<PyString>() {
            let b = s.call_method1("encode", ("utf-8",))?;
            return Ok(Blob(b.cast_into::<PyBytes>()?.unbind()));
        }
        match PyMemoryView::from(value) {
            Ok(view) => Ok(Blob(
                view.call_method0("tobytes")?
                    .cast_into::<PyBytes>()?
                    .unbind(),
            )),
            Err(_) => Err(PyTypeError::new_err(format!(
                "a bytes-like object is required, not '{}'",
                value.get_type().name()?
            ))),
        }
    }

    /// The blob's bytes.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.0.clone_ref(py)
    }
}

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
    } else if let Ok(b) = obj.cast::<Blob>() {
        ggipc_bridge::blobs::write_blob(b.get().0.bind(obj.py()).as_bytes(), out);
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

/// A stream event's JSON body as its Python value, the blob members its shape's `layout` names decoded to
/// `bytes` (see the module comment). The error says what is wrong with the body.
pub fn event_value<'py>(
    py: Python<'py>,
    body: &[u8],
    layout: Option<&'static [(&'static str, Layout)]>,
) -> Result<Bound<'py, PyAny>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Read {
        py,
        kind: layout.map(Layout::Shape),
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Python's `json.loads`, for documents.
fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let f = LOADS.get_or_try_init(py, || {
        PyResult::Ok(py.import("json")?.getattr("loads")?.unbind())
    })?;
    f.bind(py).call1((text,))
}

fn py_err<E: de::Error>(e: PyErr) -> E {
    E::custom(e)
}

/// Reads one value of `kind` (`None`: plain JSON) as its Python value.
struct Read<'py> {
    py: Python<'py>,
    kind: Option<Layout>,
}

impl<'de, 'py> DeserializeSeed<'de> for Read<'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.kind {
            Some(Layout::Blob) => d.deserialize_option(ReadBlob(self.py)),
            Some(Layout::Document) => {
                let raw = <&serde_json::value::RawValue as serde::Deserialize>::deserialize(d)?;
                loads(self.py, raw.get()).map_err(py_err)
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de, 'py> Visitor<'de> for Read<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        let Ok(n) = v.into_pyobject(self.py);
        Ok(n.into_any())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let Ok(n) = v.into_pyobject(self.py);
        Ok(n.into_any())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let element = match self.kind {
            Some(Layout::List(k)) => Some(*k),
            _ => None,
        };
        let list = PyList::empty(self.py);
        while let Some(v) = seq.next_element_seed(Read {
            py: self.py,
            kind: element,
        })? {
            list.append(v).map_err(py_err)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let members = match self.kind {
            Some(Layout::Shape(m)) => m,
            _ => &[],
        };
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key_seed(ggipc_bridge::blobs::Key)? {
            let kind = members
                .iter()
                .find(|(n, _)| *n == key.as_ref())
                .map(|(_, k)| *k);
            let v = map.next_value_seed(Read { py: self.py, kind })?;
            dict.set_item(PyString::new(self.py, &key), v)
                .map_err(py_err)?;
        }
        Ok(dict.into_any())
    }
}

/// A blob member: `None` for null, else its base64 text decoded into a new `bytes`.
struct ReadBlob<'py>(Python<'py>);

impl<'de, 'py> Visitor<'de> for ReadBlob<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }

    fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<Self::Value, E> {
        let n = ggipc_bridge::blobs::decoded_len(text).map_err(E::custom)?;
        let b = PyBytes::new_with(self.0, n, |out| {
            ggipc_bridge::blobs::decode_into(text, out)
                .map_err(|e| PyValueError::new_err(e.to_string()))
        })
        .map_err(py_err)?;
        Ok(b.into_any())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        self.visit_bytes(text.as_bytes())
    }
}
