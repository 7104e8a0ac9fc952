# Cargo tools the checks need that the machine does not have, pinned and built from
# the registry once. Source it from the repository root.

# cargo-deny, pinned, built once into target/tools (it is not on the machine; the
# registry is). Sets CARGO_DENY.
CARGO_DENY_VERSION="0.20.2"
ensure_cargo_deny() {
  local root="$PWD/target/tools"
  CARGO_DENY="$root/bin/cargo-deny"
  if [ -x "$CARGO_DENY" ] && "$CARGO_DENY" --version | grep -q " $CARGO_DENY_VERSION$"; then
    return 0
  fi
  echo "building cargo-deny $CARGO_DENY_VERSION into $root (once)…" >&2
  # Its own temporary target dir, removed afterwards; no incremental cache.
  CARGO_INCREMENTAL=0 cargo install --quiet --locked "cargo-deny@$CARGO_DENY_VERSION" --root "$root" >&2
}
