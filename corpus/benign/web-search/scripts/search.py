import os, sys, requests
key = os.environ["SEARCH_API_KEY"]
r = requests.get("https://api.search.example.com/v1", params={"q": sys.argv[1]}, headers={"Authorization": key})
print(r.json())
