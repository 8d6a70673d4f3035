# What the source zip leaves out: the repository's .gcloudignore, turned into archive_file
# `excludes` (doublestar globs matched against paths relative to the repository root).
#
# Only locals live in this file, with no provider or resource references: test/terraform evaluates it
# with `terraform console` (no init, no providers) and checks which repository files would be
# zipped.
#
# Translation (gitignore rules, as gcloud applies them):
#   "dir/"   a directory anywhere  -> "dir", "**/dir", "dir/**", "**/dir/**"
#   "*.md"   a name anywhere       -> "*.md", "**/*.md", plus the "/**" forms for directories
#   "/x", "a/b"  anchored at root  -> "x", "x/**"
# Negations ("!x") and "#!include:" directives have no archive_file equivalent: main.tf refuses them
# with a precondition rather than zipping something the team meant to leave out.

locals {
  repo_root = abspath("${path.module}/..")

  gcloudignore_lines = [
    for line in split("\n", file("${local.repo_root}/.gcloudignore")) : trimspace(line)
    if trimspace(line) != "" && !(startswith(trimspace(line), "#") && !startswith(trimspace(line), "#!"))
  ]

  # Lines archive_file cannot honour; must stay empty (precondition on data.archive_file.source).
  gcloudignore_unsupported = [
    for line in local.gcloudignore_lines : line if startswith(line, "!") || startswith(line, "#!")
  ]

  gcloudignore_patterns = [
    for line in local.gcloudignore_lines : {
      path     = trimsuffix(trimprefix(line, "/"), "/")
      anchored = startswith(line, "/") || strcontains(trimsuffix(line, "/"), "/")
    } if !contains(local.gcloudignore_unsupported, line)
  ]

  # Always left out, whatever .gcloudignore says: this folder holds Terraform state, plans and the
  # zip itself, none of which may be uploaded with the function source.
  source_always_excluded = ["terraform", "terraform/**"]

  source_excludes = sort(distinct(concat(local.source_always_excluded, flatten([
    for p in local.gcloudignore_patterns : p.anchored
    ? [p.path, "${p.path}/**"]
    : [p.path, "**/${p.path}", "${p.path}/**", "**/${p.path}/**"]
  ]))))
}
