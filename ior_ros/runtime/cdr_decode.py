"""
The tolerant CDR decoder: what a subscriber makes of bytes that a peer (or a bag) hands it.

:meth:`ior_ros.runtime.registry.MessageRegistry.decode` first runs rosbags' generated
deserializer (the fast path, strict); only when that fails does it call :func:`decode_cdr`, an
interpreter over the registry's field descriptions (:mod:`ior_ros.runtime.field_types`) that
follows what rclpy on rmw_cyclonedds_cpp makes of the same bytes, or raises
:class:`~ior_ros.runtime.errors.MessageDecodeError` with a one-line reason naming the field and
the offset. Every length is checked against what is left of the sample before anything is
allocated, so a length of 0xFFFFFFFF fails at once.

What rclpy does, found by publishing hand-made bytes with ``Publisher.publish(bytes)`` from a
Jazzy rclpy node (rmw_cyclonedds_cpp) to an rclpy subscriber
(``test/runtime/test_ros2_wire_tolerance.py`` asserts each line), and what we do:

============================================  ===========================================  =====
bytes                                         rclpy (rmw_cyclonedds_cpp)                   ours
============================================  ===========================================  =====
string with invalid UTF-8                     U+FFFD per bad sequence                      same
                                              (``PyUnicode_DecodeUTF8(..., "replace")``)
bytes after a complete message                ignored                                      same
string length 0 (no NUL at all)               ``''``                                       same
bool byte other than 0 and 1                  ``True``                                     same
string/sequence longer than its bound         delivered as it is                           same
header ``00 00`` (CDR big-endian)             decoded big-endian                           same
header options (bytes 2-3) not zero           ignored (Cyclone puts the padding count      same
                                              there)
string with a NUL inside                      cut at the first NUL (a C string copy)       kept
truncated sample, length past the end,        deserialization fails, rmw sets an error     drop
string without its NUL, fewer than 4 bytes    and rclpy *still* runs the callback, with a
                                              default-constructed message
                                              (``String(data='')``)
encapsulation other than 0x0000/0x0001        byte 1 read alone: ``01`` little-endian,     drop
(XCDR2 ``00 07``, PL_CDR ``00 03``,           anything else big-endian, bytes 0, 2, 3
``01 01``)                                    ignored; XCDR2 then fails as above
============================================  ===========================================  =====

The three differences are deliberate: a made-up default message is worse than none (a
``/clock`` sample of time 0 would send every sim-time node back to the start), an XCDR2 sample
decoded as XCDR1 gives wrong values, and cutting a string at a NUL loses data silently (it
would also cost a scan of every string on the fast path). ``wstring`` follows the rmw source
(``serdes.hpp``: a uint32 count of 4-byte ``wchar_t`` units, no terminator), not a probe: no
interface installed with Jazzy has a wstring field, and rosbags' ``.msg`` parser rejects one,
so no type of this runtime can hold one; a unit that is no code point becomes U+FFFD.

Cyclone DDS (cyclonedds-python, the DDS layer of this runtime) checks every sample against the
topic's IDL type on both sides: a writer refuses to send a structurally invalid payload (return
code -3) and a reader drops one with a ``deserialization ... failed`` log line before
:meth:`~ior_ros.runtime.dds_endpoints.RawReader.take`; it swaps big-endian samples to
little-endian and writes bool bytes above 1 as 1. Of the rows above, invalid UTF-8, a NUL
inside a string, trailing bytes and other encapsulation ids reach a live subscriber of this
runtime; the rest can come from bags and other byte sources, where this decoder is the only
guard. One case never reaches any decoder: a sample whose encapsulation id Cyclone does not
know (``00 05``, ``00 11``, ...) silences its writer for every Cyclone receiver, rclpy's as well
(the later packets of that writer are dropped as malformed, nothing more arrives); the
subscriber lives on.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Protocol

import numpy as np

from ior_ros.runtime.errors import MessageDecodeError
from ior_ros.runtime.field_types import ARRAY, BASE, DTYPES, NAME

__all__ = ['TypeTable', 'decode_cdr', 'encapsulation_name', 'XCDR1_ENCAPSULATIONS']

# the RTPS encapsulation identifiers (DDS-XTypes 1.3 §7.6.2.1.2; cyclonedds ddsi_serdata.h)
_ENCAPSULATIONS = {
    0x0000: 'CDR big-endian', 0x0001: 'CDR little-endian',
    0x0002: 'PL_CDR big-endian', 0x0003: 'PL_CDR little-endian',
    0x0004: 'XML',
    0x0006: 'XCDR2 big-endian', 0x0007: 'XCDR2 little-endian',
    0x0008: 'delimited XCDR2 big-endian', 0x0009: 'delimited XCDR2 little-endian',
    0x000a: 'PL_XCDR2 big-endian', 0x000b: 'PL_XCDR2 little-endian',
}
XCDR1_ENCAPSULATIONS = (0x0000, 0x0001)  # what rmw_cyclonedds_cpp writes and this runtime reads

_SIZES = {'bool': 1, 'byte': 1, 'char': 1, 'int8': 1, 'uint8': 1, 'int16': 2, 'uint16': 2,
          'int32': 4, 'uint32': 4, 'int64': 8, 'uint64': 8, 'float32': 4, 'float64': 8}
# struct codes as rosbags unpacks them (byte signed, char unsigned); bool read as a byte
_CODES = {'bool': 'B', 'byte': 'b', 'char': 'B', 'int8': 'b', 'uint8': 'B', 'int16': 'h',
          'uint16': 'H', 'int32': 'i', 'uint32': 'I', 'int64': 'q', 'uint64': 'Q',
          'float32': 'f', 'float64': 'd'}
_STRUCTS = {(base, little): struct.Struct(('<' if little else '>') + code)
            for base, code in _CODES.items() for little in (True, False)}
_U32 = {True: struct.Struct('<I'), False: struct.Struct('>I')}
_NATIVE_LITTLE = sys.byteorder == 'little'


class TypeTable(Protocol):
    """What the decoder needs of the registry: field descriptions and message classes."""

    def fields(self, typename: str) -> list[tuple[str, Any]]:
        """``[(field name, rosbags field description), ...]`` of a message type."""

    def get_class(self, typename: str) -> Any:
        """The message class of a type (constructed with the field values in order)."""


def encapsulation_name(identifier: int) -> str:
    """``'XCDR2 little-endian'`` for 0x0007; ``'unknown'`` for an unassigned identifier."""
    return _ENCAPSULATIONS.get(identifier, 'unknown')


def decode_cdr(data: bytes | bytearray | memoryview, typename: str, types: TypeTable) -> Any:
    """
    Decode one sample (4-byte encapsulation header, then the body) as rclpy would (see the
    module docstring); numeric arrays are numpy arrays viewing ``data``.

    Raises:
        MessageDecodeError: the bytes are no sample of ``typename``; the message names the
            field, the offset (from the first header byte) and what is wrong.
    """
    view = memoryview(data)
    if view.ndim != 1 or view.format != 'B':
        view = view.cast('B')
    size = len(view)
    if size < 4:
        raise MessageDecodeError(f'{typename}: the {size}-byte sample is shorter than its '
                                 '4-byte encapsulation header')
    identifier = view[0] << 8 | view[1]
    if identifier not in XCDR1_ENCAPSULATIONS:
        raise MessageDecodeError(
            f'{typename}: unsupported encapsulation 0x{identifier:04x} '
            f'({encapsulation_name(identifier)}); rmw_cyclonedds_cpp and this runtime exchange '
            'XCDR1: 0x0000 (big-endian) or 0x0001 (little-endian)')
    return _Cursor(view, identifier == 0x0001, types).message(typename, typename)


class _Cursor:
    """A read position in one sample; offsets count from the first header byte, alignment
    from the first body byte (offset 4), as in CDR."""

    __slots__ = ('view', 'pos', 'end', 'little', 'types', 'min_sizes')

    def __init__(self, view: memoryview, little: bool, types: TypeTable) -> None:
        self.view = view
        self.pos = 4
        self.end = len(view)
        self.little = little
        self.types = types
        self.min_sizes: dict[str, int] = {}

    # ----------------------------------------------------------------- reading
    def align(self, size: int) -> None:
        rest = (self.pos - 4) % size
        if rest:
            self.pos += size - rest

    def need(self, count: int, path: str, what: str) -> None:
        """Raise unless ``count`` bytes are left at the current position."""
        if count > self.end - self.pos:
            raise MessageDecodeError(
                f'truncated: {path} ({what}) at offset {self.pos} runs past the end of the '
                f'{self.end}-byte sample')

    def length(self, path: str, what: str) -> tuple[int, int]:
        """``(count, offset of the count)`` of a string or sequence (an aligned uint32)."""
        self.align(4)
        self.need(4, path, f'{what} length')
        at = self.pos
        count = _U32[self.little].unpack_from(self.view, at)[0]
        self.pos += 4
        return count, at

    def scalar(self, base: str, path: str) -> Any:
        size = _SIZES[base]
        self.align(size)
        self.need(size, path, base)
        value = _STRUCTS[(base, self.little)].unpack_from(self.view, self.pos)[0]
        self.pos += size
        return value != 0 if base == 'bool' else value

    def string(self, path: str) -> str:
        count, at = self.length(path, 'string')
        if count == 0:  # no terminator at all: rmw_cyclonedds reads ''
            return ''
        if count > self.end - self.pos:
            raise MessageDecodeError(f'{path}: string length {count} at offset {at} overruns '
                                     f'the {self.end}-byte sample')
        if self.view[self.pos + count - 1] != 0:
            raise MessageDecodeError(f'{path}: the string of {count} bytes at offset {at} does '
                                     'not end with its NUL byte')
        text = bytes(self.view[self.pos:self.pos + count - 1]).decode('utf-8', 'replace')
        self.pos += count
        return text

    def wstring(self, path: str) -> str:
        count, at = self.length(path, 'wstring')
        if count > (self.end - self.pos) // 4:
            raise MessageDecodeError(f'{path}: wstring length {count} (4-byte units) at offset '
                                     f'{at} overruns the {self.end}-byte sample')
        raw = bytes(self.view[self.pos:self.pos + 4 * count])
        self.pos += 4 * count
        return raw.decode('utf-32-le' if self.little else 'utf-32-be', 'replace')

    def numbers(self, base: str, count: int, path: str) -> np.ndarray:
        """``count`` primitives as a numpy array (a view of the sample when byte orders agree)."""
        size = _SIZES[base]
        if count == 0:
            return np.empty(0, DTYPES[base])
        self.align(size)
        self.need(count * size, path, f'{count} x {base}')
        if base == 'bool':  # any non-zero byte is true, as rmw reads it
            array = np.frombuffer(self.view, np.uint8, count, self.pos) != 0
        else:
            dtype = DTYPES[base]
            if self.little == _NATIVE_LITTLE or size == 1:
                array = np.frombuffer(self.view, dtype, count, self.pos)
            else:
                array = np.frombuffer(self.view, dtype.newbyteorder(), count,
                                      self.pos).astype(dtype)
        self.pos += count * size
        return array

    # ----------------------------------------------------------------- structure
    def message(self, typename: str, path: str) -> Any:
        values = [self.field(desc, f'{path}.{name}') for name, desc in self.types.fields(typename)]
        return self.types.get_class(typename)(*values)

    def field(self, desc: Any, path: str) -> Any:
        kind = desc[0]
        if kind == BASE:
            base = desc[1][0]
            if base == 'string':
                return self.string(path)
            if base == 'wstring':
                return self.wstring(path)
            return self.scalar(base, path)
        if kind == NAME:
            return self.message(desc[1], path)
        sub, count = desc[1]
        if kind != ARRAY:  # a sequence (bounded or not: rmw does not check the bound)
            count, at = self.length(path, 'sequence')
            least = count * self.min_size(sub)
            if least > self.end - self.pos:
                raise MessageDecodeError(
                    f'{path}: sequence length {count} at offset {at} needs at least {least} '
                    f'bytes, {self.end - self.pos} are left of the {self.end}-byte sample')
        if sub[0] == BASE and sub[1][0] in _SIZES:
            return self.numbers(sub[1][0], count, path)
        return [self.field(sub, f'{path}[{index}]') for index in range(count)]

    def min_size(self, desc: Any) -> int:
        """The fewest bytes one element of this type takes on the wire (at least 1)."""
        kind = desc[0]
        if kind == BASE:
            return _SIZES.get(desc[1][0], 4)  # a string is at least its length
        if kind == NAME:
            found = self.min_sizes.get(desc[1])
            if found is None:
                found = max(1, sum(self.min_size(sub) for _, sub in self.types.fields(desc[1])))
                self.min_sizes[desc[1]] = found
            return found
        sub, count = desc[1]
        return max(1, count * self.min_size(sub)) if kind == ARRAY else 4
