#!/usr/bin/env bash
# Vendor GraphiQL's browser assets into server/static/graphiql/ so that GET /graphql works
# on a network without internet (server/graphiql.py serves them at /graphiql/static/).
#
# Each package is fetched with `npm pack <name>@<version>` (npm checks the tarball against
# the registry's integrity hash) into a temporary directory; only the production browser
# builds the page loads and each package's licence are copied. VERSIONS records, for every
# copied file, its package, version, sha256 and the sha384 Subresource Integrity value that
# server/graphiql.html must carry.
#
# Versions are those strawberry-graphql's own GraphiQL page (strawberry/static/graphiql.html)
# loads from a CDN. To update: change the versions below, run this script from anywhere, put
# the printed sha384 values into server/graphiql.html, run tests/test_graphiql.py, commit.
#
# Needs node and npm, and access to the npm registry (nothing else).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/server/static/graphiql"

REACT=18.2.0
JS_COOKIE=3.0.5
GRAPHIQL=3.8.3
PLUGIN_EXPLORER=1.0.2
# bundled inside @graphiql/plugin-explorer's UMD build (its dependency ^0.9.0); fetched only
# for its licence text
GRAPHIQL_EXPLORER=0.9.0

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# unpack NAME VERSION: npm pack into $WORK, unpack to $WORK/<name>/package, remember integrity
unpack() {
    local name="$1" version="$2" dir="$WORK/${1//\//_}"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent --json "$name@$version" >pack.json)
    local tarball integrity
    tarball="$(node -e 'console.log(require(process.argv[1])[0].filename)' "$dir/pack.json")"
    integrity="$(node -e 'console.log(require(process.argv[1])[0].integrity)' "$dir/pack.json")"
    tar -xzf "$dir/$tarball" -C "$dir"
    echo "# tarball $name@$version $integrity" >>"$WORK/VERSIONS.head"
}

unpack react "$REACT"
unpack react-dom "$REACT"
unpack js-cookie "$JS_COOKIE"
unpack graphiql "$GRAPHIQL"
unpack @graphiql/plugin-explorer "$PLUGIN_EXPLORER"
unpack graphiql-explorer "$GRAPHIQL_EXPLORER"

rm -rf "$DEST.new"
mkdir -p "$DEST.new"
: >"$WORK/VERSIONS.body"

# copy NAME VERSION SOURCE TARGET: one file of a package into the new tree, recorded
copy() {
    local name="$1" version="$2" src="$WORK/${1//\//_}/package/$3" target="$4"
    mkdir -p "$(dirname "$DEST.new/$target")"
    cp "$src" "$DEST.new/$target"
    local sha256 sri
    sha256="$(sha256sum "$src" | cut -d' ' -f1)"
    sri="sha384-$(openssl dgst -sha384 -binary "$src" | base64 -w0)"
    echo "$target $name $version $sha256 $sri" >>"$WORK/VERSIONS.body"
}

copy react "$REACT" umd/react.production.min.js react/react.production.min.js
copy react "$REACT" LICENSE react/LICENSE
copy react-dom "$REACT" umd/react-dom.production.min.js react-dom/react-dom.production.min.js
copy react-dom "$REACT" LICENSE react-dom/LICENSE
copy js-cookie "$JS_COOKIE" dist/js.cookie.min.js js-cookie/js.cookie.min.js
copy js-cookie "$JS_COOKIE" LICENSE js-cookie/LICENSE
copy graphiql "$GRAPHIQL" graphiql.min.js graphiql/graphiql.min.js
copy graphiql "$GRAPHIQL" graphiql.min.css graphiql/graphiql.min.css
copy graphiql "$GRAPHIQL" LICENSE graphiql/LICENSE
copy @graphiql/plugin-explorer "$PLUGIN_EXPLORER" dist/index.umd.js plugin-explorer/index.umd.js
copy @graphiql/plugin-explorer "$PLUGIN_EXPLORER" dist/style.css plugin-explorer/style.css
# The @graphiql/plugin-explorer tarball has no licence file; its package.json says "MIT" and
# it lives in the graphql/graphiql repository, whose MIT licence graphiql's tarball carries.
copy graphiql "$GRAPHIQL" LICENSE plugin-explorer/LICENSE
copy graphiql-explorer "$GRAPHIQL_EXPLORER" LICENSE plugin-explorer/LICENSE.graphiql-explorer

{
    echo "# GraphiQL's browser assets, vendored by scripts/vendor_graphiql.sh; do not edit."
    echo "# tarball lines: package@version and the npm registry's integrity of the tarball."
    echo "# file lines: path package version sha256 sha384-SRI"
    cat "$WORK/VERSIONS.head" "$WORK/VERSIONS.body"
} >"$DEST.new/VERSIONS"

# keep the hand-written README
if [[ -f "$DEST/README.md" ]]; then
    cp "$DEST/README.md" "$DEST.new/README.md"
fi
rm -rf "$DEST"
mv "$DEST.new" "$DEST"

echo "vendored into $DEST:"
grep -v '^#' "$DEST/VERSIONS" | awk '$1 !~ /LICENSE/ {print "  " $1 "  integrity=\"" $5 "\""}'
