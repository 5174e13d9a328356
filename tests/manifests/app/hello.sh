#!/bin/sh
# The "application" the test manifests deploy.
echo "hello from $(cat "$(dirname "$0")/VERSION")"
