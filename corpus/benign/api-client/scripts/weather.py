import os, sys, urllib.request, json
key = os.getenv("WEATHER_API_KEY")
with urllib.request.urlopen(f"https://api.weather.example.com/v1?city={sys.argv[1]}&key={key}") as r:
    print(json.load(r))
