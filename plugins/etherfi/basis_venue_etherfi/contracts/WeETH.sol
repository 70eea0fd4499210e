// SPDX-License-Identifier: MIT
// Not EtherFi's code: ours, for basis-core tests. A plain ERC20 speaking the ABI of EtherFi's WeETH
// (src/core/WeETH.sol of etherfi-protocol/smart-contracts): wrap(eETH) mints LiquidityPool.sharesForAmount
// weETH and pulls the eETH; unwrap(weETH) burns it and sends LiquidityPool.amountForShare eETH; getRate() =
// getEETHByWeETH(1 ether); getWeETHByeETH / getEETHByWeETH. No proxy, permit, roles or rate limiter.
pragma solidity ^0.8.20;

interface IEETHForWeETH {
    function transfer(address _recipient, uint256 _amount) external returns (bool);
    function transferFrom(address _sender, address _recipient, uint256 _amount) external returns (bool);
}

interface ILiquidityPoolForWeETH {
    function sharesForAmount(uint256 _amount) external view returns (uint256);
    function amountForShare(uint256 _share) external view returns (uint256);
}

contract WeETH {
    string public constant name = "Wrapped eETH";
    string public constant symbol = "weETH";
    uint8 public constant decimals = 18;

    IEETHForWeETH public immutable eETH;
    ILiquidityPoolForWeETH public immutable liquidityPool;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error ZeroAmount();

    constructor(address _liquidityPool, address _eETH) {
        liquidityPool = ILiquidityPoolForWeETH(_liquidityPool);
        eETH = IEETHForWeETH(_eETH);
    }

    function wrap(uint256 _eETHAmount) public returns (uint256) {
        if (_eETHAmount == 0) revert ZeroAmount();
        uint256 weEthAmount = liquidityPool.sharesForAmount(_eETHAmount);
        require(eETH.transferFrom(msg.sender, address(this), _eETHAmount), "weETH: eETH transfer failed");
        _mint(msg.sender, weEthAmount);
        return weEthAmount;
    }

    function unwrap(uint256 _weETHAmount) external returns (uint256) {
        if (_weETHAmount == 0) revert ZeroAmount();
        uint256 eETHAmount = liquidityPool.amountForShare(_weETHAmount);
        _burn(msg.sender, _weETHAmount);
        require(eETH.transfer(msg.sender, eETHAmount), "weETH: eETH transfer failed");
        return eETHAmount;
    }

    function getWeETHByeETH(uint256 _eETHAmount) external view returns (uint256) {
        return liquidityPool.sharesForAmount(_eETHAmount);
    }

    function getEETHByWeETH(uint256 _weETHAmount) public view returns (uint256) {
        return liquidityPool.amountForShare(_weETHAmount);
    }

    function getRate() external view returns (uint256) {
        return getEETHByWeETH(1 ether);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "ERC20: insufficient allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) internal {
        require(to != address(0), "ERC20: transfer to the zero address");
        require(balanceOf[from] >= value, "ERC20: transfer amount exceeds balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }

    function _mint(address to, uint256 value) internal {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function _burn(address from, uint256 value) internal {
        require(balanceOf[from] >= value, "ERC20: burn amount exceeds balance");
        balanceOf[from] -= value;
        totalSupply -= value;
        emit Transfer(from, address(0), value);
    }
}
