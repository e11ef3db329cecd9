#!/usr/bin/env bash
# Remakes so-theo-doi.xls and so-theo-doi.ods: the tracking book of
# tests/workbooks.rs, written by rust_xlsxwriter, then saved by LibreOffice
# (Debian's libreoffice-calc-nogui; made with 7.4) as an office suite saves it.
# The files are committed; tests/workbooks.rs checks them. Run from the
# repository root.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
MOTCUA_BOOK_OUT="$out/so-theo-doi.xlsx" cargo test --test workbooks write_the_book_for_the_office_suite -- --ignored
soffice --headless --convert-to xls --outdir tests/workbooks "$out/so-theo-doi.xlsx"
soffice --headless --convert-to ods --outdir tests/workbooks "$out/so-theo-doi.xlsx"
