# Lock file repairs for this machine's npm, run after npm writes a lock (root, test/, bench/):
#   python3 .ci/fix-lock.py package-lock.json test/package-lock.json bench/package-lock.json
# 1. The registry reachable here serves only the linux builds of DuckDB's native bindings, so npm
#    leaves the other platforms out of the lock file and then `npm ci` calls the lock out of sync.
#    Adds those optional entries (os/cpu-gated, never fetched on linux) so npm ci accepts the lock.
# 2. This machine's npm is set to leave `resolved` out of lock files (omit-lockfile-registry-resolved
#    in the user's npmrc). Without it `npm ci` asks the registry for every package's metadata before
#    it can fetch the tarball, even when the tarball is in its cache: 5-13 s more from a fresh clone
#    when the cached metadata has gone stale. Adds each registry package's tarball URL (npm replaces
#    the host when another registry is configured). The project's .npmrc keeps them from now on.
import json, sys

def fix(p):
    lock = json.load(open(p))
    pk = lock['packages']
    bindings = pk.get('node_modules/@duckdb/node-bindings')
    if bindings:
        version = bindings['version']
        platforms = {'darwin-arm64': (['darwin'], ['arm64']), 'darwin-x64': (['darwin'], ['x64']), 'linux-arm64': (['linux'], ['arm64']),
                     'linux-arm64-musl': (['linux'], ['arm64']), 'win32-arm64': (['win32'], ['arm64']), 'win32-x64': (['win32'], ['x64'])}
        added = False
        for name, (os_, cpu) in platforms.items():
            key = f'node_modules/@duckdb/node-bindings-{name}'
            if key not in pk:
                pk[key] = {'version': version, 'cpu': cpu, **({'libc': ['musl']} if name.endswith('-musl') else {}), 'license': 'MIT', 'optional': True, 'os': os_}
                added = True
        if added:  # npm's own order otherwise stays as it is (it sorts with localeCompare, not by code point)
            lock['packages'] = pk = dict(sorted(pk.items(), key=lambda kv: (kv[0] != '', kv[0])))
    for key, entry in list(pk.items()):
        if not key or entry.get('link') or 'integrity' not in entry:
            continue
        name = entry.get('name') or key.rsplit('node_modules/', 1)[1]
        resolved = entry.get('resolved') or f"https://registry.npmjs.org/{name}/-/{name.split('/')[-1]}-{entry['version']}.tgz"
        # Where npm itself writes it (after the version), so an `npm install` leaves the file as it is.
        rest = {k: v for k, v in entry.items() if k != 'resolved'}
        head = {k: rest.pop(k) for k in ('name', 'version') if k in rest}
        pk[key] = {**head, 'resolved': resolved, **rest}
    json.dump(lock, open(p, 'w'), indent=2)
    open(p, 'a').write('\n')

for p in sys.argv[1:] or ['package-lock.json']:
    fix(p)
