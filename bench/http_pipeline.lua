-- bench/http_pipeline.lua — wrk script: HTTP/1.1 pipelining.
--
-- Every write carries DEPTH GET requests for wrk's URL path (default 16);
-- wrk counts and times each response as a request, and writes the next batch
-- once all DEPTH responses of the previous one have arrived. Modelled on
-- wrk's own scripts/pipeline.lua.
--
--   wrk -c 100 -d 5 -s bench/http_pipeline.lua http://127.0.0.1:PORT/ -- 16

local depth = 16

init = function(args)
    if args[1] ~= nil then
        depth = tonumber(args[1])
    end
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, wrk.path)
    end
    req = table.concat(r)
end

request = function()
    return req
end
