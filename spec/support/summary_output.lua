-- A busted output handler: the usual terminal output, then one line
-- "N passed, N failed" that CI and humans can read (errors count as failed).
return function(options)
  local busted = require("busted")
  local inner = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    io.write(string.format("%d passed, %d failed\n",
      inner.successesCount, inner.failuresCount + inner.errorsCount))
    io.flush()
    return nil, true
  end)
  return inner
end
