# Terraform and provider versions. Pessimistic constraints keep every `terraform init` on the same
# major line; commit the .terraform.lock.hcl that the first init writes so CI and laptops agree.

terraform {
  # 1.9+: variable validations may refer to other variables (pairs vs currencies, timeouts vs job wait).
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    # google-beta: only for google_project_service_identity (the Pub/Sub service agent), which has no GA resource.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
    # archive >= 2.4 matches `excludes` as doublestar globs, which the .gcloudignore translation relies on.
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    # random: pinned with the rest of the toolchain (issue 4); no resource uses it yet, so init
    # downloads it but nothing in the plan depends on it.
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}
