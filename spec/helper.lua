-- busted helper (see .busted): loaded once before the spec files.
-- Specs start the fake OpenAI server themselves: require("spec.support.fake_server").start().
return true
