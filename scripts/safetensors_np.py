"""Reading and writing safetensors with numpy, for pai's fixture scripts (no safetensors package needed).

The format: an 8-byte little-endian header length, a JSON header (name -> dtype, shape, data_offsets,
and an optional __metadata__ of strings), then the raw little-endian data. Files are written to a
temporary name and renamed.
"""
import json
import os
import struct

import numpy as np

ST_DTYPES = {np.dtype('float32'): 'F32', np.dtype('float64'): 'F64', np.dtype('int64'): 'I64', np.dtype('uint8'): 'U8'}
NP_DTYPES = {v: k for k, v in ST_DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """Writes a dict of numpy arrays (float32, float64, int64 or uint8), with optional string metadata."""
    header, blobs, offset = ({'__metadata__': metadata} if metadata else {}), [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': ST_DTYPES[a.dtype], 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """A dict of numpy arrays (copies) from a safetensors file; __metadata__ is skipped."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + end], dtype=NP_DTYPES[e['dtype']]).reshape(e['shape']).copy()
    return out
