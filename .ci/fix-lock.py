# The registry reachable here serves only the linux builds of DuckDB's native bindings, so npm
# leaves the other platforms out of the lock file and then `npm ci` calls the lock out of sync.
# Adds those optional entries (os/cpu-gated, never fetched on linux) so npm ci accepts the lock.
import json, sys
p = sys.argv[1]
lock = json.load(open(p))
pk = lock['packages']
bindings = pk['node_modules/@duckdb/node-bindings']
version = bindings['version']
platforms = {'darwin-arm64': (['darwin'], ['arm64']), 'darwin-x64': (['darwin'], ['x64']), 'linux-arm64': (['linux'], ['arm64']),
             'linux-arm64-musl': (['linux'], ['arm64']), 'win32-arm64': (['win32'], ['arm64']), 'win32-x64': (['win32'], ['x64'])}
for name, (os_, cpu) in platforms.items():
    key = f'node_modules/@duckdb/node-bindings-{name}'
    if key not in pk:
        pk[key] = {'version': version, 'cpu': cpu, **({'libc': ['musl']} if name.endswith('-musl') else {}), 'license': 'MIT', 'optional': True, 'os': os_}
lock['packages'] = dict(sorted(pk.items(), key=lambda kv: (kv[0] != '', kv[0])))
json.dump(lock, open(p, 'w'), indent=2)
open(p, 'a').write('\n')
