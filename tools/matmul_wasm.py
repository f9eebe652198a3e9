"""Write the WebAssembly matrix product that vit.js uses (through matmul.js) when the browser has 128-bit SIMD.

    python tools/matmul_wasm.py            # print the module, base64 (what matmul.js holds in MATMUL_WASM)
    python tools/matmul_wasm.py --check    # exit 1 unless matmul.js holds exactly these bytes
    python tools/matmul_wasm.py --write    # put them into matmul.js

The module exports ``memory`` and one function,

    matmul(x, w, y, n, k, m, cols)      (byte addresses x, w, y in memory; n even; k a multiple of 4)

which sets ``y[t*m + o] = sum_i x[t*k + i] * w[o*k + i]`` for rows ``t < n`` and columns ``o < cols``
(``cols`` a multiple of 4): the loop of ``matmul`` in matmul.js, four products per instruction.
The outer loop takes four rows of w at a time and runs over every pair of rows of x, so those
rows of w stay in the processor's cache. Each step of the inner loop loads 4 numbers of two
rows of x and of four rows of w, multiplies them 4 at a time (float32), and adds the products
into 8 accumulators of 2 float64 lanes (2 rows x 4 columns of y).

Why float64 sums: summed in float32 (4 lanes, each over k/4 products), ViT-B/16's attention
weights on trained-like weights came out up to 1.13x the book's allowance away from PyTorch's
(its own float32 error is 0.9x the allowance there): the attention logits are large, and the
softmax turns their rounding into relative errors of the weights. Summed in float64, as plain
JavaScript sums anyway, they are 0.66x away, closer to the float64 truth than PyTorch's.

No toolchain is needed: the bytes are written here, instruction by instruction (the WebAssembly
binary format, https://webassembly.github.io/spec/core/binary/); ``wasm2wat`` shows them as text.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from pathlib import Path

MATMUL_JS = Path(__file__).resolve().parents[1] / "vit_tutorial" / "explorers" / "js" / "matmul.js"


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    return uleb(len(text)) + text.encode("utf-8")


def section(code: int, payload: bytes) -> bytes:
    return bytes([code]) + uleb(len(payload)) + payload


I32, V128, F32 = 0x7F, 0x7B, 0x7D


# The instructions, the function's body and the module are written a few instructions a line, grouped as
# the comments explain, to be read against the binary format; ruff format would put one on each line.
# fmt: off
# --------------------------------------------------------------------------- instructions
def local_get(i): return b"\x20" + uleb(i)
def local_set(i): return b"\x21" + uleb(i)
def i32_const(v): return b"\x41" + sleb(v)
I32_ADD, I32_MUL, I32_SHL, I32_GE_U = b"\x6a", b"\x6c", b"\x74", b"\x4f"
BLOCK, LOOP, END = b"\x02\x40", b"\x03\x40", b"\x0b"  # 0x40: the block yields no value
def br(depth): return b"\x0c" + uleb(depth)
def br_if(depth): return b"\x0d" + uleb(depth)
def f32_store(offset): return b"\x38" + uleb(2) + uleb(offset)  # align 2**2
def simd(op: int) -> bytes: return b"\xfd" + uleb(op)
def v128_load(offset=0): return simd(0x00) + uleb(4) + uleb(offset)  # align 2**4
V128_ZERO = simd(0x0C) + bytes(16)
F32X4_MUL = simd(0xE6)
F64X2_ADD, F64X2_PROMOTE_LOW = simd(0xF0), simd(0x5F)
F64_ADD, F32_DEMOTE_F64 = b"\xa0", b"\xb6"
def f64x2_extract_lane(lane): return simd(0x21) + bytes([lane])
def i8x16_shuffle(lanes: bytes): return simd(0x0D) + lanes


def code_of(*parts) -> bytes:
    return b"".join(p if isinstance(p, bytes) else code_of(*p) for p in parts)


# --------------------------------------------------------------------------- the functions
# parameters 0-6, then locals
X, W, Y, N, K, M, COLS = range(7)
T, O, I, KB, X0, X1, W0, W1, W2, W3, YO = range(7, 18)  # i32 locals
A0, A1, C, P = 18, 19, 20, 21  # v128: x's two rows, one row of w, a product
S = [[22 + 4 * r + c for c in range(4)] for r in range(2)]  # v128 accumulators S[row][column]
LOCALS = [(11, I32), (4 + 8, V128)]
HIGH_HALF = bytes(range(8, 16)) + bytes(range(8, 16))  # i8x16.shuffle lanes: float32 lanes 2, 3 -> 0, 1


def plus(a, b):  # a + b, both instructions that push one i32
    return code_of(a, b, I32_ADD)


def update(acc: int, a: int) -> list:
    """acc += x * w for one row of x (local a) and the row of w in C: the 4 float32 products, added
    into the accumulator's 2 float64 lanes (lanes 0, 1 of the products, then lanes 2, 3)."""
    return [local_get(a), local_get(C), F32X4_MUL, local_set(P),
            local_get(acc), local_get(P), F64X2_PROMOTE_LOW, F64X2_ADD,
            local_get(P), local_get(P), i8x16_shuffle(HIGH_HALF), F64X2_PROMOTE_LOW, F64X2_ADD, local_set(acc)]


def total(acc: int) -> list:
    """The sum of an accumulator's two lanes, rounded to one float32 on the stack."""
    return [local_get(acc), f64x2_extract_lane(0), local_get(acc), f64x2_extract_lane(1), F64_ADD, F32_DEMOTE_F64]


def matmul_body() -> bytes:
    inner = [  # 4 numbers of k per step: x rows t, t+1 and w rows o .. o+3, at byte offset I
        plus(local_get(X0), local_get(I)), v128_load(), local_set(A0),
        plus(local_get(X1), local_get(I)), v128_load(), local_set(A1),
    ]
    for c, wc in enumerate((W0, W1, W2, W3)):
        inner += [plus(local_get(wc), local_get(I)), v128_load(), local_set(C)]
        for r, a in enumerate((A0, A1)):
            inner += update(S[r][c], a)
    store = []
    for r in range(2):  # y[(t + r) * m + o + c] = the lanes of S[r][c], added
        for c in range(4):
            store += [local_get(YO)]
            if r:
                store += [local_get(M), i32_const(2), I32_SHL, I32_ADD]
            store += total(S[r][c]) + [f32_store(4 * c)]
    return code_of(
        local_get(K), i32_const(2), I32_SHL, local_set(KB),  # kb = k * 4 bytes
        i32_const(0), local_set(O),
        BLOCK, LOOP,  # for (o = 0; o < cols; o += 4): four rows of w, used for every row of x while in cache
        local_get(O), local_get(COLS), I32_GE_U, br_if(1),
        plus(local_get(W), code_of(local_get(O), local_get(KB), I32_MUL)), local_set(W0),
        plus(local_get(W0), local_get(KB)), local_set(W1),
        plus(local_get(W1), local_get(KB)), local_set(W2),
        plus(local_get(W2), local_get(KB)), local_set(W3),
        i32_const(0), local_set(T),
        BLOCK, LOOP,  # for (t = 0; t < n; t += 2)
        local_get(T), local_get(N), I32_GE_U, br_if(1),
        plus(local_get(X), code_of(local_get(T), local_get(KB), I32_MUL)), local_set(X0),
        plus(local_get(X0), local_get(KB)), local_set(X1),
        [code_of(V128_ZERO, local_set(s)) for row in S for s in row],
        i32_const(0), local_set(I),
        BLOCK, LOOP,  # for (i = 0; i < kb; i += 16 bytes)
        local_get(I), local_get(KB), I32_GE_U, br_if(1),
        inner,
        plus(local_get(I), i32_const(16)), local_set(I), br(0),
        END, END,
        # yo = y + (t * m + o) * 4
        local_get(Y), local_get(T), local_get(M), I32_MUL, local_get(O), I32_ADD, i32_const(2), I32_SHL, I32_ADD,
        local_set(YO),
        store,
        plus(local_get(T), i32_const(2)), local_set(T), br(0),
        END, END,
        plus(local_get(O), i32_const(4)), local_set(O), br(0),
        END, END,
        END,
    )


def module() -> bytes:
    functype = b"\x60" + vec([bytes([I32])] * 7) + vec([])  # (7 x i32) -> ()
    body = vec([uleb(count) + bytes([kind]) for count, kind in LOCALS]) + matmul_body()
    return (b"\0asm" + (1).to_bytes(4, "little")
            + section(1, vec([functype]))  # types
            + section(3, vec([uleb(0)]))  # functions: one, of type 0
            + section(5, vec([b"\x00" + uleb(1)]))  # memory: at least 1 page, no maximum
            + section(7, vec([name("memory") + b"\x02" + uleb(0),  # exports: memory 0, function 0
                              name("matmul") + b"\x00" + uleb(0)]))
            + section(10, vec([uleb(len(body)) + body])))  # code


# fmt: on
def encoded() -> str:
    return base64.b64encode(module()).decode("ascii")


PATTERN = re.compile(r'const MATMUL_WASM = "[A-Za-z0-9+/=]*";')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless matmul.js holds these bytes")
    parser.add_argument("--write", action="store_true", help="write them into matmul.js")
    parser.add_argument("--out", help="also write the raw module to this new file (e.g. for wasm2wat)")
    args = parser.parse_args(argv)
    text = MATMUL_JS.read_text(encoding="utf-8")
    line = f'const MATMUL_WASM = "{encoded()}";'
    if args.out:
        if Path(args.out).exists():
            print(f"{args.out} exists: give --out a new file's name (this tool overwrites nothing it did not write)", file=sys.stderr)
            return 1
        Path(args.out).write_bytes(module())
    if args.check:
        ok = line in text
        print("matmul.js holds the module" if ok else "matmul.js does NOT hold this module: run tools/matmul_wasm.py --write")
        return 0 if ok else 1
    if args.write:
        if not PATTERN.search(text):
            print(f'no `const MATMUL_WASM = "...";` line in {MATMUL_JS}', file=sys.stderr)
            return 1
        MATMUL_JS.write_text(PATTERN.sub(lambda _: line, text, count=1), encoding="utf-8")
        print(f"wrote {len(module())} bytes into {MATMUL_JS}")
        return 0
    print(encoded())
    return 0


if __name__ == "__main__":
    sys.exit(main())
