#!/bin/bash
curl -s -X POST -H 'Content-type: application/json' --data "{\"text\": \"$1\"}" "$SLACK_WEBHOOK_URL"
