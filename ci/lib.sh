# Shell helpers shared by the fixture scripts (sourced, not run).

# Deterministic, incompressible-looking content: `pattern SEED LEN` writes
# LEN bytes of SHA-256(SEED || counter) to stdout. tests/big_image.rs
# computes the same bytes to check what it reads back.
pattern() {
  python3 - "$1" "$2" <<'PY'
import sys, hashlib
seed, n = sys.argv[1].encode(), int(sys.argv[2])
out, i = bytearray(), 0
while len(out) < n:
    out += hashlib.sha256(seed + i.to_bytes(8, "little")).digest()
    i += 1
sys.stdout.buffer.write(bytes(out[:n]))
PY
}
