#!/usr/bin/env bash
# The GitHub Action's audit step: the report in the log (annotations with the github format), a
# SARIF file for code scanning, a summary for the run page, and the outputs `exit-code` and
# `sarif-file`. The step's exit code is sc-audit's: 1 when findings reach INPUT_FAIL_ON.
#
#   SC_AUDIT          the sc-audit command (default: sc-audit on PATH)
#   INPUT_PATH        what to audit, relative to GITHUB_WORKSPACE (default: .)
#   INPUT_FORMAT      the log's format (default: github)
#   INPUT_FAIL_ON     error, warning or info (default: warning)
#   INPUT_SARIF       true or false (default: true)
#   INPUT_SARIF_FILE  where to write SARIF, relative to GITHUB_WORKSPACE (default: sc-audit.sarif)
set -uo pipefail

sc_audit=${SC_AUDIT:-sc-audit}
path=${INPUT_PATH:-.}
format=${INPUT_FORMAT:-github}
fail_on=${INPUT_FAIL_ON:-warning}
sarif=${INPUT_SARIF:-true}
sarif_file=${INPUT_SARIF_FILE:-sc-audit.sarif}
output=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}

cd "${GITHUB_WORKSPACE:-.}" || exit 2
case "$sarif" in
  true | false) ;;
  *) echo "::error title=sc-audit::the input sarif must be true or false, not '$sarif'"
     echo "exit-code=2" >> "$output"
     exit 2 ;;
esac

"$sc_audit" check "$path" --format "$format" --fail-on "$fail_on"
status=$?

written=""
if [ "$sarif" = true ] && [ "$status" -lt 2 ]; then
  # A second run for the file: its exit code is the same as the first one's, unless it breaks.
  mkdir -p "$(dirname "$sarif_file")"
  "$sc_audit" check "$path" --format sarif --fail-on "$fail_on" > "$sarif_file.tmp"
  if [ $? -lt 2 ]; then
    mv "$sarif_file.tmp" "$sarif_file"
    written=$sarif_file
  else
    rm -f "$sarif_file.tmp"
    echo "::error title=sc-audit::could not write the SARIF file $sarif_file"
    status=2
  fi
fi

echo "sarif-file=$written" >> "$output"
echo "exit-code=$status" >> "$output"

if [ "$status" -lt 2 ]; then
  report=$("$sc_audit" check "$path" --format concise --fail-on "$fail_on")
  # The findings quote audited files: as HTML-escaped text in <pre>, which no line of theirs can
  # close (a ``` line closed the code fence this once was, and the rest rendered as Markdown).
  escaped=$(sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' <<< "$report")
  {
    echo "### sc-audit: $(tail -n 1 <<< "$escaped")"
    if [ "$(wc -l <<< "$report")" -gt 1 ]; then
      echo
      echo "<details><summary>Findings</summary>"
      echo
      echo "<pre>"
      head -n -1 <<< "$escaped"
      echo "</pre>"
      echo
      echo "</details>"
    fi
  } >> "$summary"
else
  echo "### sc-audit could not audit \`$path\` (exit code $status): see the step's log" >> "$summary"
fi
exit "$status"
