"""Leaks memory allocated by extension modules: ctypes buffers and Decimal
coefficients, both taken through the exported PyMem_* API. Those calls go
through the PLT even on LTO builds, so the probes see them everywhere."""
import ctypes
import decimal

import _target

_buffers = []
_numbers = []


def keep_buffer(i):
    _buffers.append(_target.dump_stack() or ctypes.create_string_buffer(2048))  # LEAK


def keep_number(i):
    _numbers.append(decimal.Decimal(i) ** 50)


def handle(i):
    keep_buffer(i)
    keep_number(i)


if __name__ == "__main__":
    decimal.getcontext().prec = 400
    _target.serve(handle, pause=0.004)
